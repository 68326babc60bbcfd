package config

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Gunicorn 25 and 26 settings (the control socket, HTTP/2, dirty
// arbiters, the ASGI worker's extras) start a Gunicorn deployment with a
// notice each, on the command line and in gunicorn.conf.py, unless the
// value asks for what gowsgi cannot give.

func TestGunicorn26FlagsAreAccepted(t *testing.T) {
	inTempDir(t, "")
	c, _, err := Load([]string{"--no-control-socket", "--control-socket", "/run/x.ctl", "--http-protocols", "h2,h1",
		"--http2-cleartext", "off", "--dirty-workers", "0", "--http-parser", "fast", "a:b"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"--no-control-socket is accepted and ignored: " + controlSocketNotice,
		"--control-socket is accepted and ignored: " + controlSocketNotice,
		"--http-protocols is accepted and ignored: gowsgi serves HTTP/1.1 only (HTTP/2 is not supported yet): " +
			"a TLS client offering h2 is served HTTP/1.1 through ALPN, as Gunicorn serves one that does not select h2",
		"--http2-cleartext is accepted and ignored: cleartext HTTP/2 is off, and gowsgi has no HTTP/2",
		"--dirty-workers is accepted and ignored: " + noDirtyNotice,
		"--http-parser is accepted and ignored: gowsgi always parses HTTP with its own strict parser, written in Go",
	}
	if !reflect.DeepEqual(c.Notices, want) || c.App != "a:b" {
		t.Errorf("notices:\n got %q\nwant %q (app %q)", c.Notices, want, c.App)
	}
}

func TestGunicorn26FlagsThatAskTooMuch(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--http2-cleartext", "prior-knowledge"}, "--http2-cleartext prior-knowledge: gowsgi serves HTTP/1.1 only " +
			"(HTTP/2 is not supported yet): a peer speaking cleartext HTTP/2 would be refused"},
		{[]string{"--dirty-app", "ml:Model"}, "--dirty-app ml:Model: " + dirtyRefused},
		{[]string{"--dirty-workers", "2"}, "--dirty-workers 2: " + dirtyRefused},
	} {
		inTempDir(t, "")
		_, _, err := Load(append(tc.args, "a:b"), env(nil), &bytes.Buffer{})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: error %v; want %s", tc.args, err, tc.want)
		}
	}
}

func TestGunicorn26PythonConfig(t *testing.T) {
	c, err := loadWithReport(t, `{"file": "/srv/gunicorn.conf.py", "names": [
		{"name": "control_socket_mode", "line": 1, "value": 432},
		{"name": "asgi_disconnect_grace_period", "line": 2, "value": 5},
		{"name": "dirty_apps", "line": 3, "value": []},
		{"name": "dirty_workers", "line": 4, "value": 0},
		{"name": "http2_max_frame_size", "line": 5, "value": 16384},
		{"name": "on_dirty_starting", "line": 6, "callable": true, "arity": 1},
		{"name": "control_socket_disable", "line": 7, "value": false}
	]}`, "app:app")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"gunicorn.conf.py:1: control_socket_mode is accepted and ignored: " + controlSocketNotice,
		"gunicorn.conf.py:2: asgi_disconnect_grace_period is accepted and ignored: gowsgi does not cancel a " +
			"request's task when its client goes, as Uvicorn does not: the app gets http.disconnect, its send() " +
			"raises, and it ends in its own time (--request-timeout bounds it)",
		"gunicorn.conf.py:4: dirty_workers is accepted and ignored: " + noDirtyNotice,
		"gunicorn.conf.py:5: http2_max_frame_size is accepted and ignored: " + noHTTP2Notice,
		"gunicorn.conf.py:6: on_dirty_starting is a dirty arbiter hook, never called: " + noDirtyNotice,
	}
	if !reflect.DeepEqual(c.Notices, want) {
		t.Errorf("notices:\n got %q\nwant %q", c.Notices, want)
	}
	for report, want := range map[string]string{
		`{"names": [{"name": "dirty_apps", "line": 3, "value": ["ml:Model"]}]}`: "gunicorn.conf.py:3: dirty_apps: " + dirtyRefused,
		`{"names": [{"name": "dirty_workers", "line": 4, "value": 2}]}`:         "gunicorn.conf.py:4: dirty_workers: " + dirtyRefused,
		`{"names": [{"name": "http2_cleartext", "line": 5, "value": "both"}]}`: "gunicorn.conf.py:5: http2_cleartext: gowsgi " +
			"serves HTTP/1.1 only (HTTP/2 is not supported yet): a peer speaking cleartext HTTP/2 would be refused",
	} {
		if _, err := loadWithReport(t, report, "app:app"); err == nil || err.Error() != want {
			t.Errorf("%s: error %v; want %s", report, err, want)
		}
	}
}

// gunicorn26Settings is every name in Gunicorn 26.2.2's
// gunicorn.config.KNOWN_SETTINGS, in its order.
var gunicorn26Settings = []string{
	"config", "wsgi_app", "bind", "backlog", "workers", "worker_class", "threads", "worker_connections",
	"max_requests", "max_requests_jitter", "timeout", "graceful_timeout", "keepalive", "limit_request_line",
	"limit_request_fields", "limit_request_field_size", "reload", "reload_engine", "reload_extra_files", "spew",
	"check_config", "print_config", "preload_app", "sendfile", "reuse_port", "chdir", "daemon", "raw_env",
	"pidfile", "worker_tmp_dir", "user", "group", "umask", "initgroups", "tmp_upload_dir",
	"secure_scheme_headers", "forwarded_allow_ips", "accesslog", "disable_redirect_access_to_syslog",
	"access_log_format", "errorlog", "loglevel", "capture_output", "logger_class", "logconfig",
	"logconfig_dict", "logconfig_json", "syslog_addr", "syslog", "syslog_prefix", "syslog_facility",
	"enable_stdio_inheritance", "statsd_host", "dogstatsd_tags", "statsd_prefix", "enable_backlog_metric",
	"proc_name", "default_proc_name", "pythonpath", "paste", "on_starting", "on_reload", "when_ready",
	"pre_fork", "post_fork", "post_worker_init", "worker_int", "worker_abort", "pre_exec", "pre_request",
	"post_request", "child_exit", "worker_exit", "nworkers_changed", "on_exit", "ssl_context", "proxy_protocol",
	"proxy_allow_ips", "protocol", "uwsgi_allow_ips", "keyfile", "certfile", "ssl_version", "cert_reqs",
	"ca_certs", "suppress_ragged_eofs", "do_handshake_on_connect", "ciphers", "http_protocols",
	"http2_cleartext", "http2_max_concurrent_streams", "http2_initial_window_size", "http2_max_frame_size",
	"http2_max_header_list_size", "raw_paste_global_conf", "permit_obsolete_folding", "strip_header_spaces",
	"permit_unconventional_http_method", "permit_unconventional_http_version", "casefold_http_method",
	"forwarder_headers", "header_map", "asgi_loop", "asgi_lifespan", "asgi_disconnect_grace_period",
	"http_parser", "root_path", "dirty_apps", "dirty_workers", "dirty_timeout", "dirty_threads",
	"dirty_graceful_timeout", "on_dirty_starting", "dirty_post_fork", "dirty_worker_init", "dirty_worker_exit",
	"control_socket", "control_socket_mode", "control_socket_disable",
}

// Every Gunicorn setting is one gowsgi knows: a setting of its own, an
// ignored or refused one, a server hook, or a dirty arbiter hook; none
// gets the "not a Gunicorn or gowsgi setting" notice.
func TestEveryGunicornSettingIsKnown(t *testing.T) {
	known := map[string]bool{}
	for _, table := range [][]*setting{settings, switches, ignored} {
		for _, s := range table {
			known[s.name] = true
		}
	}
	for _, u := range unsupported {
		for _, n := range u.names {
			known[n] = true
		}
	}
	for n := range hookArity {
		known[n] = true
	}
	for _, n := range dirtyHooks {
		known[n] = true
	}
	for _, n := range gunicorn26Settings {
		if !known[n] {
			t.Errorf("Gunicorn's %s is unknown to gowsgi", n)
		}
	}
}

// --root-path (Gunicorn 24, Uvicorn) must begin a path.
func TestRootPath(t *testing.T) {
	inTempDir(t, "")
	c, _, err := Load([]string{"--root-path", "/api", "a:b"}, env(nil), &bytes.Buffer{})
	if err != nil || c.RootPath != "/api" {
		t.Fatalf("--root-path /api: %q, %v", c.RootPath, err)
	}
	for _, bad := range []string{"api", "/api?x", "/a\x01"} {
		if _, _, err := Load([]string{"--root-path", bad, "a:b"}, env(nil), &bytes.Buffer{}); err == nil {
			t.Errorf("--root-path %q accepted", bad)
		}
	}
}

// Every abbreviation Gunicorn's command line accepts (argparse takes a
// unique prefix of a long flag) means the same in gowsgi, whatever flags
// gowsgi adds (its own, Uvicorn's): a deployment's abbreviated flags
// start as they did.
func TestGunicornAbbreviationsStillResolve(t *testing.T) {
	if !slices.IsSorted(gunicornFlags) {
		t.Fatal("gunicornFlags is not sorted: resolveLong searches it")
	}
	ix := newFlagIndex()
	for _, full := range gunicornFlags {
		if _, known := ix.long[full]; !known {
			t.Errorf("--%s: not a flag gowsgi knows", full)
		}
		want, _, err := ix.resolveLong(full)
		if err != nil {
			t.Errorf("--%s: %v", full, err)
			continue
		}
		for n := 1; n < len(full); n++ {
			prefix := full[:n]
			unique := true
			for _, other := range gunicornFlags {
				if other != full && strings.HasPrefix(other, prefix) {
					unique = false
					break
				}
			}
			if !unique {
				continue
			}
			if got, _, err := ix.resolveLong(prefix); err != nil || got != want {
				t.Errorf("--%s, which Gunicorn reads as --%s: %v", prefix, full, err)
			}
		}
	}
}

// A setting whose purpose gowsgi serves another way is a remark (logged
// at info: the most copied Docker template sets --worker-tmp-dir, and a
// warning on every start would page someone); one whose effect is
// missing stays a warning.
func TestServedSettingsAreRemarks(t *testing.T) {
	c, _, err := Load([]string{"a:b", "--worker-tmp-dir", "/dev/shm", "--control-socket", "/tmp/x.sock"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Notices) != 2 {
		t.Fatalf("notices %q; want two", c.Notices)
	}
	for _, n := range c.Notices {
		if want := strings.HasPrefix(n, "--worker-tmp-dir "); c.Remark(n) != want {
			t.Errorf("Remark(%q) = %v; want %v", n, !want, want)
		}
	}
	c, err = loadWithReport(t, `{"names": [{"name": "worker_tmp_dir", "line": 3, "value": "/dev/shm"}]}`, "a:b")
	if err != nil || len(c.Notices) != 1 || !c.Remark(c.Notices[0]) {
		t.Errorf("gunicorn.conf.py worker_tmp_dir: error %v, notices %q; want one remark", err, c.Notices)
	}
}
