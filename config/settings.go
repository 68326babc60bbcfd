package config

// settings is the single definition of every gowsgi setting: its
// Gunicorn name (also its TOML key), its flags, the environment variable
// that supplies its default, its default, its validator, its help text
// and the Config field it fills. Flags, config file, --print-config and
// --help are all derived from it.
//
// Defaults are written in command-line syntax and go through the same
// parser and validator as user input.
var settings = []*setting{
	// Server socket
	{
		name: "bind", flags: []string{"bind"}, short: "b", meta: "ADDRESS", kind: kindList,
		def: "127.0.0.1:8000", env: "PORT", fromEnv: func(port string) string { return "0.0.0.0:" + port },
		help:      "socket to bind: HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N; repeat to bind several",
		normalize: eachItem(normalizeBind),
		field:     func(c *Config) any { return &c.Bind },
	},
	{
		name: "backlog", flags: []string{"backlog"}, meta: "INT", kind: kindInt, def: "2048",
		help:      "maximum number of pending connections",
		normalize: intRange(1, 1<<20),
		field:     func(c *Config) any { return &c.Backlog },
	},
	{
		name: "reuse_port", flags: []string{"reuse-port"}, kind: kindBool, def: "false",
		help:  "set SO_REUSEPORT on the listening sockets",
		field: func(c *Config) any { return &c.ReusePort },
	},

	// Worker processes
	{
		name: "workers", flags: []string{"workers"}, short: "w", meta: "INT", kind: kindInt,
		def: "1", env: "WEB_CONCURRENCY",
		help:      "number of worker processes (default: $WEB_CONCURRENCY or 1)",
		normalize: intRange(1, 10000),
		field:     func(c *Config) any { return &c.Workers },
	},
	{
		name: "worker_class", flags: []string{"worker-class"}, short: "k", meta: "STRING", kind: kindString,
		def:       "sync",
		help:      "worker type: sync or gthread (sync with --threads > 1 becomes gthread)",
		normalize: normalizeWorkerClass,
		field:     func(c *Config) any { return &c.WorkerClass },
	},
	{
		name: "threads", flags: []string{"threads"}, meta: "INT", kind: kindInt, def: "1",
		help:      "Python threads per worker: how many requests run the app at once",
		normalize: intRange(1, 10000),
		field:     func(c *Config) any { return &c.Threads },
	},
	{
		name: "worker_connections", flags: []string{"worker-connections"}, meta: "INT", kind: kindInt,
		def:       "1000",
		help:      "maximum open client connections per worker",
		normalize: intRange(1, 1<<24),
		field:     func(c *Config) any { return &c.WorkerConnections },
	},
	{
		name: "max_requests", flags: []string{"max-requests"}, meta: "INT", kind: kindInt, def: "0",
		help:      "restart a worker after this many requests (0 = never)",
		normalize: intRange(0, maxInt),
		field:     func(c *Config) any { return &c.MaxRequests },
	},
	{
		name: "max_requests_jitter", flags: []string{"max-requests-jitter"}, meta: "INT", kind: kindInt,
		def:       "0",
		help:      "add up to this many requests, at random, to max_requests per worker",
		normalize: intRange(0, maxInt),
		field:     func(c *Config) any { return &c.MaxRequestsJitter },
	},
	{
		name: "timeout", flags: []string{"timeout"}, short: "t", meta: "SECONDS", kind: kindSeconds,
		def:       "30",
		help:      "kill a worker whose app call has run this long (0 = never)",
		normalize: nonNegativeDuration,
		field:     func(c *Config) any { return &c.Timeout },
	},
	{
		name: "graceful_timeout", flags: []string{"graceful-timeout"}, meta: "SECONDS", kind: kindSeconds,
		def:       "30",
		help:      "time workers get to finish requests after a restart or stop signal",
		normalize: nonNegativeDuration,
		field:     func(c *Config) any { return &c.GracefulTimeout },
	},
	{
		name: "keepalive", flags: []string{"keep-alive"}, meta: "SECONDS", kind: kindSeconds, def: "2",
		help:      "how long an idle keep-alive connection waits for its next request (0 = no keep-alive)",
		normalize: nonNegativeDuration,
		field:     func(c *Config) any { return &c.KeepAlive },
	},

	// Security limits
	{
		name: "limit_request_line", flags: []string{"limit-request-line"}, meta: "INT", kind: kindInt,
		def:       "4094",
		help:      "maximum request line size in bytes, 0 to 8190 (0 = the maximum)",
		normalize: limitUpTo(maxRequestLine),
		field:     func(c *Config) any { return &c.LimitRequestLine },
	},
	{
		name: "limit_request_fields", flags: []string{"limit-request-fields"}, meta: "INT", kind: kindInt,
		def:       "100",
		help:      "maximum number of request header fields, 0 to 32768 (0 = the maximum)",
		normalize: limitUpTo(maxRequestFields),
		field:     func(c *Config) any { return &c.LimitRequestFields },
	},
	{
		name: "limit_request_field_size", flags: []string{"limit-request-field_size", "limit-request-field-size"},
		meta: "INT", kind: kindInt, def: "8190",
		help:      "maximum size of one request header field in bytes (0 = unlimited)",
		normalize: intRange(0, maxInt),
		field:     func(c *Config) any { return &c.LimitRequestFieldSize },
	},
	{
		name: "limit_request_body", flags: []string{"limit-request-body"}, meta: "BYTES", kind: kindInt64,
		def:       "0",
		help:      "maximum request body size in bytes (0 = unlimited)",
		normalize: nonNegativeInt64,
		field:     func(c *Config) any { return &c.LimitRequestBody },
	},

	// Application
	{
		name: "wsgi_app", meta: "MODULE:APP", kind: kindString, def: "",
		help:      "the WSGI application, as given on the command line",
		normalize: normalizeAppSpec,
		field:     func(c *Config) any { return &c.App },
	},
	{
		name: "chdir", flags: []string{"chdir"}, meta: "DIR", kind: kindString, def: "",
		help:      "change to this directory before loading the app",
		normalize: normalizeChdir,
		field:     func(c *Config) any { return &c.Chdir },
	},
	{
		name: "pythonpath", flags: []string{"pythonpath"}, meta: "DIRS", kind: kindCSV, def: "",
		help:      "comma-separated directories to prepend to sys.path",
		normalize: eachItem(nonEmptyItem),
		field:     func(c *Config) any { return &c.PythonPath },
	},
	{
		name: "raw_env", flags: []string{"env"}, short: "e", meta: "KEY=VALUE", kind: kindList, def: "",
		help:      "set an environment variable for the app; repeat for several",
		normalize: eachItem(normalizeEnvItem),
		field:     func(c *Config) any { return &c.Env },
	},
	{
		name: "virtualenv", flags: []string{"virtualenv"}, meta: "DIR", kind: kindString,
		def: "", env: "VIRTUAL_ENV",
		help:  "Python virtualenv to run the app in (default: $VIRTUAL_ENV)",
		field: func(c *Config) any { return &c.Virtualenv },
	},
	{
		name: "preload_app", flags: []string{"preload"}, kind: kindBool, def: "false",
		help:  "import the app once in a zygote and fork the workers from it",
		field: func(c *Config) any { return &c.Preload },
	},
	{
		name: "reload", flags: []string{"reload"}, kind: kindBool, def: "false",
		help:  "restart workers when the app's code changes (for development)",
		field: func(c *Config) any { return &c.Reload },
	},

	// Server mechanics
	{
		name: "pidfile", flags: []string{"pid"}, short: "p", meta: "FILE", kind: kindString, def: "",
		help:  "write the master's PID to this file",
		field: func(c *Config) any { return &c.Pidfile },
	},
	{
		name: "user", flags: []string{"user"}, short: "u", meta: "USER", kind: kindString, def: "",
		help:      "run workers as this user (name or uid)",
		normalize: validateUser,
		field:     func(c *Config) any { return &c.User },
	},
	{
		name: "group", flags: []string{"group"}, short: "g", meta: "GROUP", kind: kindString, def: "",
		help:      "run workers as this group (name or gid)",
		normalize: validateGroup,
		field:     func(c *Config) any { return &c.Group },
	},
	{
		name: "umask", flags: []string{"umask"}, short: "m", meta: "INT", kind: kindMask, def: "0",
		help:  "file mode creation mask, e.g. 0o022 or 022 (octal) or 18",
		field: func(c *Config) any { return &c.Umask },
	},
	{
		name: "initgroups", flags: []string{"initgroups"}, kind: kindBool, def: "false",
		help:  "also give workers all groups of --user",
		field: func(c *Config) any { return &c.InitGroups },
	},
	{
		name: "proc_name", flags: []string{"name"}, short: "n", meta: "STRING", kind: kindString, def: "",
		help:  "process name shown by ps and top",
		field: func(c *Config) any { return &c.ProcName },
	},

	// Logging
	{
		name: "accesslog", flags: []string{"access-logfile"}, meta: "FILE", kind: kindString, def: "",
		help:  "access log file, - for stdout (default: no access log)",
		field: func(c *Config) any { return &c.AccessLog },
	},
	{
		name: "access_log_format", flags: []string{"access-logformat"}, meta: "STRING", kind: kindString,
		def:   defaultAccessLogFormat,
		help:  "access log line format, with Gunicorn's %(x)s atoms",
		field: func(c *Config) any { return &c.AccessLogFormat },
	},
	{
		name: "errorlog", flags: []string{"error-logfile", "log-file"}, meta: "FILE", kind: kindString,
		def:   "-",
		help:  "error log file, - for stderr",
		field: func(c *Config) any { return &c.ErrorLog },
	},
	{
		name: "loglevel", flags: []string{"log-level"}, meta: "LEVEL", kind: kindString, def: "info",
		help:      "error log level: debug, info, warning, error or critical",
		normalize: normalizeLogLevel,
		field:     func(c *Config) any { return &c.LogLevel },
	},
	{
		name: "log_format", flags: []string{"log-format"}, meta: "FORMAT", kind: kindString, def: "",
		help:      "error log format: console or json (default: console on a terminal, json otherwise)",
		normalize: normalizeLogFormat,
		field:     func(c *Config) any { return &c.LogFormat },
	},
	{
		name: "capture_output", flags: []string{"capture-output"}, kind: kindBool, def: "false",
		help:  "send the app's stdout and stderr to the error log",
		field: func(c *Config) any { return &c.CaptureOutput },
	},

	// Proxies
	{
		name: "forwarded_allow_ips", flags: []string{"forwarded-allow-ips"}, meta: "IPS", kind: kindCSV,
		def: "127.0.0.1,::1", env: "FORWARDED_ALLOW_IPS",
		help:      "comma-separated proxy IPs or CIDRs trusted to set secure-scheme headers, * for any",
		normalize: eachItem(normalizeAllowedIP),
		field:     func(c *Config) any { return &c.ForwardedAllowIPs },
	},
	{
		name: "proxy_protocol", flags: []string{"proxy-protocol"}, kind: kindBool, def: "false",
		help:  "accept the PROXY protocol header from trusted proxies",
		field: func(c *Config) any { return &c.ProxyProtocol },
	},
	{
		name: "proxy_allow_ips", flags: []string{"proxy-allow-from"}, meta: "IPS", kind: kindCSV,
		def:       "127.0.0.1",
		help:      "comma-separated IPs or CIDRs allowed to send the PROXY protocol header, * for any",
		normalize: eachItem(normalizeAllowedIP),
		field:     func(c *Config) any { return &c.ProxyAllowFrom },
	},
}

// switches are command-line flags that choose what Load's caller does
// rather than setting a value; they have no TOML key.
var switches = []*setting{
	{
		name: "config", flags: []string{"config"}, short: "c", meta: "FILE", kind: kindString,
		help: "TOML config file (default: ./gowsgi.toml when present)",
	},
	{
		name: "check_config", flags: []string{"check-config"}, kind: kindBool,
		help: "check the configuration and that the app imports, then exit",
	},
	{
		name: "print_config", flags: []string{"print-config"}, kind: kindBool,
		help: "print the resolved configuration as TOML, then exit",
	},
	{name: "help", flags: []string{"help"}, short: "h", kind: kindBool, help: "show this help"},
	{name: "version", flags: []string{"version"}, short: "v", kind: kindBool, help: "print the version"},
}

// unsupported lists Gunicorn's settings that gowsgi does not implement,
// with their flags and the reason. Naming them turns "unknown flag" into
// an explanation, and keeps flag abbreviations exactly as ambiguous as
// they are for Gunicorn.
var unsupported = []struct {
	names  []string // setting names (TOML keys)
	flags  []string // long flags without "--"
	short  string
	reason string
}{
	{names: []string{"daemon"}, flags: []string{"daemon"}, short: "D",
		reason: "run gowsgi in the foreground under a supervisor such as systemd"},
	{names: []string{"enable_stdio_inheritance"}, flags: []string{"enable-stdio-inheritance"}, short: "R",
		reason: "gowsgi does not daemonize"},
	{names: []string{"keyfile", "certfile", "ssl_version", "cert_reqs", "ca_certs", "suppress_ragged_eofs",
		"do_handshake_on_connect", "ciphers", "ssl_context"},
		flags: []string{"keyfile", "certfile", "ssl-version", "cert-reqs", "ca-certs", "suppress-ragged-eofs",
			"do-handshake-on-connect", "ciphers"},
		reason: "TLS is not supported yet; terminate TLS in a reverse proxy"},
	{names: []string{"statsd_host", "statsd_prefix", "dogstatsd_tags"},
		flags:  []string{"statsd-host", "statsd-prefix", "dogstatsd-tags"},
		reason: "StatsD metrics are not supported"},
	{names: []string{"logger_class", "logconfig", "logconfig_json", "logconfig_dict", "syslog", "syslog_addr",
		"syslog_prefix", "syslog_facility", "disable_redirect_access_to_syslog"},
		flags: []string{"logger-class", "log-config", "log-config-json", "log-syslog", "log-syslog-to",
			"log-syslog-prefix", "log-syslog-facility", "disable-redirect-access-to-syslog"},
		reason: "the error log is set with --error-logfile, --log-level and --log-format"},
	{names: []string{"paste", "raw_paste_global_conf"}, flags: []string{"paste", "paster", "paste-global"},
		reason: "PasteDeploy is not supported; give the app as MODULE:APP"},
	{names: []string{"reload_engine", "reload_extra_files"}, flags: []string{"reload-engine", "reload-extra-file"},
		reason: "--reload has no engine or extra-file options"},
	{names: []string{"spew"}, flags: []string{"spew"}, reason: "use a Python tracer in the app instead"},
	{names: []string{"sendfile"}, flags: []string{"no-sendfile"}, reason: "gowsgi does not use sendfile"},
	{names: []string{"worker_tmp_dir"}, flags: []string{"worker-tmp-dir"},
		reason: "gowsgi workers report liveness over a pipe, not a temporary file"},
	{names: []string{"strip_header_spaces", "tolerate_dangerous_framing", "permit_unconventional_http_method",
		"permit_unconventional_http_version", "casefold_http_method", "header_map", "forwarder_headers",
		"permit_obsolete_folding"},
		flags: []string{"strip-header-spaces", "tolerate-dangerous-framing", "permit-unconventional-http-method",
			"permit-unconventional-http-version", "casefold-http-method", "header-map", "forwarder-headers",
			"permit-obsolete-folding"},
		reason: "gowsgi's HTTP parser is always strict and has no switches to relax it"},
	{names: []string{"secure_scheme_headers", "tmp_upload_dir", "default_proc_name"},
		reason: "it is not configurable in gowsgi"},
	{names: []string{"on_starting", "on_reload", "when_ready", "pre_fork", "post_fork", "post_worker_init",
		"worker_int", "worker_abort", "pre_exec", "pre_request", "post_request", "child_exit", "worker_exit",
		"nworkers_changed", "on_exit"},
		reason: "server hooks are not supported yet"},
}

const defaultAccessLogFormat = `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`

// Gunicorn's hard ceilings (gunicorn/http/message.py); a limit of 0 means
// the ceiling.
const (
	maxRequestLine   = 8190
	maxRequestFields = 32768
	maxInt           = int(^uint(0) >> 1)
)
