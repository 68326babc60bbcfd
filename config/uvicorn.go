package config

import (
	"cmp"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Uvicorn's own command line (`uvicorn main:app --host 0.0.0.0 --port
// 8000 --workers 4`), so that a Dockerfile or Procfile written for it
// runs with `uvicorn` replaced by `gowsgi -k asgi`. Uvicorn's flags that
// share a meaning with a setting are that setting's aliases (--loop,
// --timeout-keep-alive, --ssl-certfile, ...; see the settings tables);
// those below are read on the command line (and *_CMD_ARGS) only, as
// Uvicorn has no config file.

// uvicornFlags become other flag uses (takeUvicorn): the address parts
// a bind, --factory a call of the app, --access-log an access log on
// stdout.
var uvicornFlags = []*setting{
	{name: "uvicorn_host", flags: []string{"host"}, kind: kindString, help: "`HOST`"},
	{name: "uvicorn_port", flags: []string{"port"}, kind: kindString, help: "`PORT`"},
	{name: "uvicorn_uds", flags: []string{"uds"}, kind: kindString, help: "`PATH`"},
	{name: "uvicorn_fd", flags: []string{"fd"}, kind: kindString, help: "`FD`"},
	{name: "uvicorn_factory", flags: []string{"factory"}, kind: kindBool},
	{name: "uvicorn_access_log", flags: []string{"access-log"}, kind: kindBool},
	{name: "uvicorn_interface", flags: []string{"interface"}, kind: kindString, help: "`INTERFACE`"},
}

// uvicornIgnored are Uvicorn flags accepted with a notice, as the
// ignored Gunicorn settings are.
var uvicornIgnored = []*setting{
	{name: "uvicorn_no_access_log", served: true, flags: []string{"no-access-log"}, kind: kindBool,
		notice: "gowsgi writes no access log unless --access-logfile asks for one"},
	{name: "uvicorn_http", served: true, flags: []string{"http"}, kind: kindString, help: "`IMPL`",
		notice: "gowsgi always parses HTTP with its own strict parser, written in Go"},
	{name: "uvicorn_ws", flags: []string{"ws"}, kind: kindString, help: "`IMPL`",
		notice: "gowsgi always serves WebSockets itself, framed in Go", refuse: refuseNoWebSockets},
	{name: "uvicorn_ws_per_message_deflate", served: true, flags: []string{"ws-per-message-deflate"}, kind: kindString,
		help: "`BOOL`", notice: "gowsgi always offers permessage-deflate to a client that asks for it"},
	{name: "uvicorn_ws_max_queue", flags: []string{"ws-max-queue"}, kind: kindString, help: "`N`",
		notice: "gowsgi reads at most 16 messages ahead of the app, then leaves the rest in the socket"},
	{name: "uvicorn_use_colors", served: true, flags: []string{"use-colors", "no-use-colors"}, kind: kindBool,
		notice: "--log-format console, json or gunicorn decides how the error log looks"},
	{name: "uvicorn_server_header", flags: []string{"server-header", "no-server-header"}, kind: kindBool,
		notice: "gowsgi sends Server: gowsgi unless the app sends a Server header"},
	{name: "uvicorn_date_header", flags: []string{"date-header", "no-date-header"}, kind: kindBool,
		notice: "gowsgi sends a Date header unless the app sends one"},
	{name: "uvicorn_h11_max_incomplete_event_size", served: true, flags: []string{"h11-max-incomplete-event-size"},
		kind: kindString, help: "`BYTES`",
		notice: "--limit-request-line, --limit-request-fields and --limit-request-field_size bound a request head"},
	{name: "uvicorn_reset_contextvars", served: true, flags: []string{"reset-contextvars"}, kind: kindBool,
		notice: "each request's task starts from the loop's own context, as asyncio copies it"},
	{name: "uvicorn_timeout_worker_healthcheck", served: true, flags: []string{"timeout-worker-healthcheck"}, kind: kindString,
		help: "`SECONDS`", notice: "--timeout replaces a worker whose loop takes no event for that long"},
	{name: "uvicorn_reload_delay", served: true, flags: []string{"reload-delay"}, kind: kindString, help: "`SECONDS`",
		notice: "--reload looks at the files every half second"},
}

// refuseNoWebSockets refuses --ws none: gowsgi cannot turn WebSockets
// off, and an app that counts on upgrades being refused would get them.
func refuseNoWebSockets(v any) string {
	if s, ok := v.(string); ok && strings.EqualFold(strings.TrimSpace(s), "none") {
		return "gowsgi cannot turn WebSockets off; refuse them in the app or the proxy"
	}
	return ""
}

// takeUvicorn turns Uvicorn's --host, --port, --uds and --fd into one
// --bind each address (when only one of --host and --port is given, the
// other is its UVICORN_ variable or Uvicorn's default: 127.0.0.1, 8000),
// --access-log into --access-logfile -, and --interface into the worker
// class (asgi3 and asgi2 -k asgi, wsgi -k sync; auto, Uvicorn's default,
// leaves it to the app, as no -k does); it notes --factory.
func (src *argSource) takeUvicorn(uses []flagUse, ix *flagIndex) ([]flagUse, error) {
	var host, port []string
	kept := uses[:0:0]
	for _, u := range uses {
		switch u.s.name {
		case "uvicorn_host":
			host = append(host, u.value)
		case "uvicorn_port":
			port = append(port, u.value)
		case "uvicorn_uds":
			kept = append(kept, flagUse{s: settingNamed("bind"), written: u.written, value: "unix:" + u.value})
		case "uvicorn_fd":
			if _, err := strconv.ParseUint(u.value, 10, 31); err != nil {
				return nil, fmt.Errorf("%s %s: want a file descriptor number", u.written, u.value)
			}
			kept = append(kept, flagUse{s: settingNamed("bind"), written: u.written, value: "fd://" + u.value})
		case "uvicorn_factory":
			src.factory = u.value != "false"
		case "uvicorn_access_log":
			if u.value != "false" {
				kept = append(kept, flagUse{s: settingNamed("accesslog"), written: u.written, value: "-"})
			}
		case "uvicorn_interface":
			class, ok := map[string]string{"asgi3": WorkerClassASGI, "asgi2": WorkerClassASGI, "wsgi": "sync", "auto": ""}[u.value]
			if !ok {
				return nil, fmt.Errorf("%s %s: want auto, asgi3, asgi2 or wsgi", u.written, u.value)
			}
			if class != "" {
				kept = append(kept, flagUse{s: settingNamed("worker_class"), written: u.written, value: class})
			}
		default:
			kept = append(kept, u)
		}
	}
	if len(host) == 0 && len(port) == 0 {
		return kept, nil
	}
	h, p := cmp.Or(ix.uvicornHost, "127.0.0.1"), cmp.Or(ix.uvicornPort, "8000")
	if len(host) > 0 {
		h = host[len(host)-1]
	}
	if len(port) > 0 {
		p = port[len(port)-1]
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			return nil, fmt.Errorf("--port %s: want a port number, 0 to 65535", p)
		}
	}
	if h == "" || strings.ContainsAny(h, "/[]") {
		return nil, fmt.Errorf("--host %q: want a host name or an IP address", h)
	}
	return append(kept, flagUse{s: settingNamed("bind"), written: "--host/--port", value: net.JoinHostPort(h, p)}), nil
}

// takeUvicornHeaders turns Uvicorn's --header NAME:VALUE into
// --response-header: Gunicorn's argparse reads --header as --header-map
// (its only flag so prefixed), whose values (drop, refuse, dangerous)
// never hold a ':'.
func takeUvicornHeaders(uses []flagUse) {
	for i, u := range uses {
		if u.s.name == "header_map" && strings.Contains(u.value, ":") {
			uses[i].s, uses[i].written = settingNamed("response_headers"), "--header"
		}
	}
}

// settingNamed returns the setting called name; it must exist.
func settingNamed(name string) *setting {
	for _, s := range settings {
		if s.name == name {
			return s
		}
	}
	panic("config: no setting " + name)
}

// applyFactory applies Uvicorn's --factory, given in any source, to the
// app spec: "main:create_app" is served as "main:create_app()".
func applyFactory(c *Config, factory bool) error {
	if !factory || c.App == "" || strings.HasSuffix(c.App, ")") {
		return nil
	}
	if !strings.Contains(c.App, ":") {
		return &Error{Name: "--factory", Err: fmt.Errorf("app %q names no factory: give MODULE:FACTORY", c.App)}
	}
	c.App += "()"
	return nil
}
