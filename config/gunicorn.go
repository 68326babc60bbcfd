package config

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ignored lists Gunicorn's settings whose purpose gowsgi already serves
// or does not have: their flags and config file entries are accepted
// with a one-line notice saying why they change nothing, so a Gunicorn
// command line or gunicorn.conf.py starts as it is. Settings whose
// effect gowsgi cannot give are refused instead (unsupported,
// below). docs/gunicorn.md has the whole table.
var ignored = []*setting{
	{name: "worker_tmp_dir", served: true, flags: []string{"worker-tmp-dir"}, kind: kindString,
		help: "`DIR`",
		notice: "gowsgi workers report liveness to the master over a pipe, not through a file, so no directory is needed " +
			"(request bodies over --max-buffered-body spill to $TMPDIR, or stream to the app without a writable one)"},
	{name: "reload_engine", served: true, flags: []string{"reload-engine"}, kind: kindString, help: "`ENGINE`",
		notice: "--reload polls the app's files; there is no engine to choose"},
	{name: "tmp_upload_dir", served: true, kind: kindString,
		notice: "Gunicorn does not use it either; gowsgi spools large request bodies to $TMPDIR (--max-buffered-body)"},
	{name: "default_proc_name", served: true, kind: kindString,
		notice: "the process title comes from proc_name or the app, as in Gunicorn"},

	// Gunicorn 25 and 26.
	{name: "control_socket", flags: []string{"control-socket"}, kind: kindString, help: "`PATH`",
		notice: controlSocketNotice},
	{name: "control_socket_mode", flags: []string{"control-socket-mode"}, kind: kindString, help: "`MODE`",
		notice: controlSocketNotice},
	{name: "control_socket_disable", flags: []string{"no-control-socket"}, kind: kindBool,
		notice: controlSocketNotice},
	{name: "http_parser", served: true, flags: []string{"http-parser"}, kind: kindString, help: "`PARSER`",
		notice: "gowsgi always parses HTTP with its own strict parser, written in Go"},
	{name: "asgi_disconnect_grace_period", flags: []string{"asgi-disconnect-grace-period"}, kind: kindString,
		help: "`SECONDS`",
		notice: "gowsgi does not cancel a request's task when its client goes, as Uvicorn does not: the app " +
			"gets http.disconnect, its send() raises, and it ends in its own time (--request-timeout bounds it)"},
	{name: "http_protocols", flags: []string{"http-protocols"}, kind: kindString, help: "`PROTOCOLS`",
		notice: "gowsgi serves HTTP/1.1 only (HTTP/2 is not supported yet): a TLS client offering h2 is " +
			"served HTTP/1.1 through ALPN, as Gunicorn serves one that does not select h2"},
	{name: "http2_cleartext", flags: []string{"http2-cleartext"}, kind: kindString, help: "`MODE`",
		notice: "cleartext HTTP/2 is off, and gowsgi has no HTTP/2", refuse: refuseH2C},
	{name: "http2_max_concurrent_streams", flags: []string{"http2-max-concurrent-streams"}, kind: kindString,
		help: "`N`", notice: noHTTP2Notice},
	{name: "http2_initial_window_size", flags: []string{"http2-initial-window-size"}, kind: kindString,
		help: "`BYTES`", notice: noHTTP2Notice},
	{name: "http2_max_frame_size", flags: []string{"http2-max-frame-size"}, kind: kindString,
		help: "`BYTES`", notice: noHTTP2Notice},
	{name: "http2_max_header_list_size", flags: []string{"http2-max-header-list-size"}, kind: kindString,
		help: "`BYTES`", notice: noHTTP2Notice},
	{name: "dirty_apps", flags: []string{"dirty-app"}, kind: kindList, help: "`APP`",
		notice: noDirtyNotice, refuse: refuseDirty},
	{name: "dirty_workers", flags: []string{"dirty-workers"}, kind: kindString, help: "`N`",
		notice: noDirtyNotice, refuse: refuseDirty},
	{name: "dirty_timeout", flags: []string{"dirty-timeout"}, kind: kindString, help: "`SECONDS`",
		notice: noDirtyNotice},
	{name: "dirty_threads", flags: []string{"dirty-threads"}, kind: kindString, help: "`N`",
		notice: noDirtyNotice},
	{name: "dirty_graceful_timeout", flags: []string{"dirty-graceful-timeout"}, kind: kindString,
		help: "`SECONDS`", notice: noDirtyNotice},

	// Settings whose Gunicorn default is what gowsgi does, written out in
	// a config file (or a --print-config dump); other values are refused.
	{name: "forwarder_headers", flags: []string{"forwarder-headers"}, kind: kindString, help: "`HEADERS`",
		notice: "gowsgi takes SCRIPT_NAME and PATH_INFO headers from --forwarded-allow-ips peers, " +
			"Gunicorn's default, and drops other header names with underscores (names without one, " +
			"such as X-Forwarded-For, are not the setting's business, in Gunicorn either)",
		refuse: refuseForwarderHeaders},
}

// refuseForwarderHeaders refuses a forwarder_headers list naming a
// header with an underscore that gowsgi would drop, or "*" (every such
// header), which the app would then miss. Gunicorn consults the list
// only for names with one, so others (X-REAL-IP,X-FORWARDED-FOR in real
// configs) change nothing; a list without SCRIPT_NAME or PATH_INFO gets
// the notice.
func refuseForwarderHeaders(v any) string {
	s, _ := v.(string)
	for _, name := range strings.Split(s, ",") {
		name = strings.ToUpper(strings.TrimSpace(name))
		if name == "*" || strings.Contains(name, "_") && name != "SCRIPT_NAME" && name != "PATH_INFO" {
			return fmt.Sprintf("gowsgi takes SCRIPT_NAME and PATH_INFO headers from --forwarded-allow-ips peers "+
				"(Gunicorn's default) and drops other header names with underscores, so the app would not see %s", name)
		}
	}
	return ""
}

// onlyValues refuses every value but those given (compared without
// case, spaces and, for lists, order), with why.
func onlyValues(why string, values ...string) func(v any) string {
	return func(v any) string {
		s, ok := v.(string)
		if !ok {
			return why
		}
		canon := strings.ToLower(strings.ReplaceAll(s, " ", ""))
		for _, ok := range values {
			if canon == strings.ToLower(ok) {
				return ""
			}
		}
		return why
	}
}

const (
	controlSocketNotice = "gowsgi has no control socket for gunicornc: --admin-bind serves the workers' " +
		"state (/status) and metrics, HUP reloads, TTIN and TTOU add and remove a worker, TERM stops"
	noHTTP2Notice = "gowsgi has no HTTP/2 yet, so no HTTP/2 connection to limit"
	noDirtyNotice = "gowsgi has no dirty arbiters (yet)"
	dirtyRefused  = "gowsgi has no dirty arbiters (yet): the app's calls to its dirty apps would fail"
)

// refuseH2C refuses cleartext HTTP/2: a peer that opens with the HTTP/2
// preface would get a 400 where Gunicorn serves it.
func refuseH2C(v any) string {
	if s, ok := v.(string); ok && strings.EqualFold(strings.TrimSpace(s), "off") {
		return ""
	}
	return "gowsgi serves HTTP/1.1 only (HTTP/2 is not supported yet): a peer speaking cleartext HTTP/2 " +
		"would be refused"
}

// refuseDirty refuses dirty apps and a dirty worker pool, and accepts
// Gunicorn's defaults (no app, 0 workers), which ask for nothing.
func refuseDirty(v any) string {
	switch x := v.(type) {
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(x)); err == nil && n == 0 {
			return ""
		}
	case json.Number:
		if n, err := x.Int64(); err == nil && n == 0 {
			return ""
		}
	case []any:
		if len(x) == 0 {
			return ""
		}
	}
	return dirtyRefused
}

// dirtyHooks are Gunicorn's dirty arbiter hooks: called only by dirty
// arbiters, which gowsgi does not have.
var dirtyHooks = []string{"on_dirty_starting", "dirty_post_fork", "dirty_worker_init", "dirty_worker_exit"}

// unsupported lists Gunicorn's settings whose effect gowsgi cannot give,
// with their flags and the reason; they stop the server. Naming them
// turns "unknown flag" into an explanation, and keeps flag abbreviations
// exactly as ambiguous as they are for Gunicorn.
var unsupported = []struct {
	names  []string // setting names (TOML keys)
	flags  []string // long flags without "--"
	short  string
	reason string
}{
	{names: []string{"ssl_context"},
		reason: "the TLS context is built from --certfile, --keyfile, --ca-certs, --cert-reqs, --ssl-version and --ciphers (docs/tls.md)"},
	{names: []string{"spew"}, flags: []string{"spew"}, reason: "use a Python tracer in the app instead"},
	{names: []string{"strip_header_spaces", "tolerate_dangerous_framing", "permit_unconventional_http_method",
		"permit_unconventional_http_version", "casefold_http_method", "permit_obsolete_folding"},
		flags: []string{"strip-header-spaces", "tolerate-dangerous-framing", "permit-unconventional-http-method",
			"permit-unconventional-http-version", "casefold-http-method", "permit-obsolete-folding"},
		reason: "gowsgi's HTTP parser is always strict and has no switches to relax it"},
}

// hookArity is every Gunicorn server hook with the number of positional
// parameters Gunicorn requires of it (gunicorn/config.py,
// validate_callable); post_request takes 2, 3 or 4.
var hookArity = map[string]int{
	"on_starting":      1,
	"on_reload":        1,
	"when_ready":       1,
	"pre_fork":         2,
	"post_fork":        2,
	"post_worker_init": 1,
	"worker_int":       1,
	"worker_abort":     1,
	"pre_exec":         1,
	"pre_request":      2,
	"post_request":     4,
	"child_exit":       2,
	"worker_exit":      2,
	"nworkers_changed": 3,
	"on_exit":          1,
}

// HookNames returns Gunicorn's server hook names, sorted.
func HookNames() []string {
	names := make([]string, 0, len(hookArity))
	for n := range hookArity {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// checkHookArity applies Gunicorn's rule: a hook must take exactly the
// parameters it is called with; post_request may leave out the last one
// or two.
func checkHookArity(name string, arity int) error {
	want := hookArity[name]
	if arity == want || arity < 0 || (name == "post_request" && (arity == 2 || arity == 3)) {
		return nil
	}
	return fmt.Errorf("the hook must take %d arguments, it takes %d", want, arity)
}

// normalizeSchemeHeaders checks a secure_scheme_headers object (compact
// JSON, "" for none): header names, each with the string value that
// means https.
func normalizeSchemeHeaders(v any) (any, error) {
	var m map[string]any
	if s := v.(string); s != "" {
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, err
		}
	}
	for name, val := range m {
		if _, err := normalizeHeaderName(name); err != nil {
			return nil, err
		}
		if _, ok := val.(string); !ok {
			return nil, fmt.Errorf("%s: want the header's value as a string, got %v", name, val)
		}
	}
	return v, nil
}

// SchemeHeaders returns secure_scheme_headers as header name → the value
// meaning https; empty for none.
func (c *Config) SchemeHeaders() map[string]string {
	m := map[string]string{}
	json.Unmarshal([]byte(c.SecureSchemeHeaders), &m) // checked by normalizeSchemeHeaders
	return m
}

// GunicornValues returns every setting of c under its Gunicorn name with
// the type Gunicorn's config object gives it, for the `cfg` of server
// hooks: durations in seconds (an int when whole), an unset string as
// None (nil), lists as lists. "config" is the config file.
func (c *Config) GunicornValues() map[string]any {
	m := map[string]any{"config": c.ConfigFile}
	for _, s := range settings {
		switch p := s.field(c).(type) {
		case *time.Duration:
			if *p%time.Second == 0 {
				m[s.name] = int64(*p / time.Second)
			} else {
				m[s.name] = p.Seconds()
			}
		case *string:
			switch {
			case s.kind == kindJSON: // Gunicorn's default is an empty dict
				v := map[string]any{}
				json.Unmarshal([]byte(*p), &v) // "" or the compact JSON of an object
				m[s.name] = v
			case *p == "":
				m[s.name] = nil
			default:
				m[s.name] = *p
			}
		case *int:
			m[s.name] = *p
		case *int64:
			m[s.name] = *p
		case *bool:
			m[s.name] = *p
		case *[]string:
			m[s.name] = append([]string{}, *p...)
		}
	}
	return m
}

// gunicornFlags is every long flag of Gunicorn 26.2.2's command line,
// without "--", sorted: a unique prefix of one of them means that flag,
// as Gunicorn's argparse reads it, whatever flags gowsgi adds
// (flagIndex.resolveLong).
var gunicornFlags = []string{
	"access-logfile", "access-logformat", "asgi-disconnect-grace-period", "asgi-lifespan", "asgi-loop",
	"backlog", "bind", "ca-certs", "capture-output", "casefold-http-method", "cert-reqs", "certfile", "chdir",
	"check-config", "ciphers", "config", "control-socket", "control-socket-mode", "daemon", "dirty-app",
	"dirty-graceful-timeout", "dirty-threads", "dirty-timeout", "dirty-workers",
	"disable-redirect-access-to-syslog", "do-handshake-on-connect", "dogstatsd-tags", "enable-backlog-metric",
	"enable-stdio-inheritance", "env", "error-logfile", "forwarded-allow-ips", "forwarder-headers",
	"graceful-timeout", "group", "header-map", "help", "http-parser", "http-protocols", "http2-cleartext",
	"http2-initial-window-size", "http2-max-concurrent-streams", "http2-max-frame-size",
	"http2-max-header-list-size", "initgroups", "keep-alive", "keyfile", "limit-request-field_size",
	"limit-request-fields", "limit-request-line", "log-config", "log-config-json", "log-file", "log-level",
	"log-syslog", "log-syslog-facility", "log-syslog-prefix", "log-syslog-to", "logger-class", "max-requests",
	"max-requests-jitter", "name", "no-control-socket", "no-sendfile", "paste", "paste-global", "paster",
	"permit-obsolete-folding", "permit-unconventional-http-method", "permit-unconventional-http-version", "pid",
	"preload", "print-config", "protocol", "proxy-allow-from", "proxy-protocol", "pythonpath", "reload",
	"reload-engine", "reload-extra-file", "reuse-port", "root-path", "spew", "ssl-version", "statsd-host",
	"statsd-prefix", "strip-header-spaces", "suppress-ragged-eofs", "threads", "timeout", "umask", "user",
	"uwsgi-allow-from", "version", "worker-class", "worker-connections", "worker-tmp-dir", "workers",
}
