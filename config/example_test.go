package config_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gowsgi/gowsgi/config"
)

// writeConfig writes a config snippet to a temporary file and returns
// its path and a function removing it.
func writeConfig(name, snippet string) (string, func()) {
	dir, err := os.MkdirTemp("", "gowsgi-example")
	if err != nil {
		panic(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(snippet), 0o644); err != nil {
		panic(err)
	}
	return path, func() { os.RemoveAll(dir) }
}

// A Procfile line: flags after the app, as Gunicorn accepts them, with
// Heroku's PORT and WEB_CONCURRENCY.
func ExampleLoad() {
	args := []string{"mysite.wsgi", "--log-file", "-", "--timeout", "120", "-e", "TAGS=a,b"}
	environ := map[string]string{"PORT": "5000", "WEB_CONCURRENCY": "3"}
	c, action, err := config.Load(args, func(k string) string { return environ[k] }, io.Discard)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(action == config.ActionServe, c.App, c.Bind, c.Workers, c.Timeout, c.Env, c.ErrorLog)
	// Output: true mysite.wsgi [0.0.0.0:5000] 3 2m0s [TAGS=a,b] -
}

// A config file uses Gunicorn's setting names; flags override it.
func ExampleLoad_configFile() {
	path, cleanup := writeConfig("site.toml", `
wsgi_app = "mysite.wsgi:application"
bind = ["unix:/run/mysite.sock", "[::1]:8000"]
workers = 4
threads = 8          # sync with threads becomes gthread, as in Gunicorn
keepalive = "500ms"
`)
	defer cleanup()
	c, _, err := config.Load([]string{"-c", path, "-w", "2"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.App, c.Bind, c.Workers, c.WorkerClass, c.Threads, c.KeepAlive)
	// Output: mysite.wsgi:application [unix:/run/mysite.sock [::1]:8000] 2 gthread 8 500ms
}

// Errors say what is wrong and where: the file and line, and the key.
func ExampleError() {
	path, cleanup := writeConfig("site.toml", `
wsgi_app = "mysite.wsgi:application"
workers = 0
`)
	defer cleanup()
	_, _, err := config.Load([]string{"-c", path}, func(string) string { return "" }, io.Discard)
	var e *config.Error
	if errors.As(err, &e) {
		fmt.Printf("%s | %s | %v\n", filepath.Base(e.Source), e.Name, e.Err)
	}
	// Output: site.toml:3 | workers | must be at least 1, got 0
}

// --print-config writes TOML that -c reads back.
func ExampleConfig_WriteTOML() {
	c, _, err := config.Load([]string{"app:app", "-b", "[::]:80", "-m", "022", "--keep-alive", "1.5s"},
		func(string) string { return "" }, io.Discard)
	if err != nil {
		fmt.Println(err)
		return
	}
	c.WriteTOML(os.Stdout)
	// Output:
	// # gowsgi configuration, as resolved by --print-config
	// wsgi_app = "app:app"
	// bind = ["[::]:80"]
	// backlog = 2048
	// reuse_port = false
	// workers = 1
	// # worker_class = "sync" (none named: an async app is served as with "asgi")
	// threads = 1
	// asgi_loop = "auto"
	// asgi_lifespan = "auto"
	// root_path = ""
	// proxy_headers = true
	// ws_max_size = 16777216
	// ws_ping_interval = 20
	// ws_ping_timeout = 20
	// no_sched_batch = false
	// worker_connections = 20000
	// limit_concurrency = 0
	// max_requests = 0
	// max_requests_jitter = 0
	// timeout = 30
	// graceful_timeout = 30
	// keepalive = "1.5s"
	// header_timeout = 30
	// first_byte_timeout = 5
	// header_min_rate = 500
	// body_timeout = 30
	// body_min_rate = 500
	// write_timeout = 30
	// max_buffered_body = 1048576
	// body_memory_budget = 67108864
	// body_spill_budget = 1073741824
	// response_buffer = 4194304
	// response_memory_budget = 67108864
	// sendfile = true
	// limit_request_line = 4094
	// limit_request_fields = 100
	// limit_request_field_size = 8190
	// limit_request_body = 0
	// header_map = "drop"
	// chdir = ""
	// pythonpath = []
	// raw_env = []
	// virtualenv = ""
	// preload_app = false
	// no_gc_freeze = false
	// reload = false
	// reload_extra_files = []
	// reload_dirs = []
	// reload_includes = []
	// reload_excludes = []
	// daemon = false
	// enable_stdio_inheritance = false
	// pidfile = ""
	// user = ""
	// group = ""
	// umask = 0o022
	// initgroups = false
	// proc_name = ""
	// accesslog = ""
	// access_log_format = "%(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\""
	// errorlog = "-"
	// loglevel = "info"
	// log_format = ""
	// logger_class = ""
	// capture_output = false
	// statsd_host = ""
	// statsd_prefix = ""
	// dogstatsd_tags = ""
	// enable_backlog_metric = false
	// forwarded_allow_ips = ["127.0.0.1", "::1"]
	// secure_scheme_headers = "{\"X-FORWARDED-PROTO\":\"https\",\"X-FORWARDED-PROTOCOL\":\"ssl\",\"X-FORWARDED-SSL\":\"on\"}"
	// proxy_protocol = false
	// proxy_allow_ips = ["127.0.0.1"]
	// protocol = "http"
	// uwsgi_allow_ips = ["127.0.0.1", "::1"]
	// logconfig_dict = ""
	// logconfig_json = ""
	// logconfig = ""
	// syslog = false
	// syslog_addr = "udp://localhost:514"
	// syslog_prefix = ""
	// syslog_facility = "user"
	// disable_redirect_access_to_syslog = false
	// paste = ""
	// raw_paste_global_conf = []
	// env_file = ""
	// certfile = ""
	// keyfile = ""
	// ssl_keyfile_password = ""
	// ca_certs = ""
	// cert_reqs = 0
	// ssl_version = "TLSv1_2"
	// ciphers = ""
	// plain_bind = []
	// do_handshake_on_connect = false
	// suppress_ragged_eofs = true
	// admin_bind = ""
	// shutdown_delay = 0
	// request_timeout = 0
	// max_worker_memory = 0
	// request_id_header = "X-Request-ID"
	// response_headers = []
}
