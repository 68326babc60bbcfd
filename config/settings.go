package config

import "slices"

// settings is the single definition of every gowsgi setting: its
// Gunicorn name (also its TOML key), its flags, the environment variable
// that supplies its default, its default, its validator, its help text
// and the Config field it fills. Flags, config file, --print-config and
// --help are all derived from it.
//
// Defaults are written in command-line syntax and go through the same
// parser and validator as user input.
var settings = slices.Concat(serverSettings, asgiSettings, requestSettings, logConfigSettings, syslogSettings,
	pasteSettings, dotenvSettings, tlsSettings, operabilitySettings, responseHeaderSettings)

// serverSettings: the app, the sockets and the worker processes.
var serverSettings = []*setting{
	{
		name: "wsgi_app", kind: kindString, def: "",
		help:      "the WSGI app, `MODULE:APP`, as given on the command line",
		normalize: normalizeAppSpec,
		field:     func(c *Config) any { return &c.App },
	},

	// Server socket
	{
		name: "bind", flags: []string{"bind"}, short: "b", kind: kindList,
		def: "127.0.0.1:8000", env: "PORT", fromEnv: func(port string) string { return "0.0.0.0:" + port },
		help:      "listen on `ADDRESS`: HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N; repeat to bind several",
		normalize: eachItem(normalizeBind),
		field:     func(c *Config) any { return &c.Bind },
	},
	{
		name: "backlog", flags: []string{"backlog"}, kind: kindInt, def: "2048",
		help:      "queue at most `N` pending connections per socket",
		normalize: intRange(0, 1<<20),
		field:     func(c *Config) any { return &c.Backlog },
	},
	{
		name: "reuse_port", flags: []string{"reuse-port"}, kind: kindBool, def: "false",
		help:  "set SO_REUSEPORT on the listening sockets",
		field: func(c *Config) any { return &c.ReusePort },
	},

	// Worker processes
	{
		name: "workers", flags: []string{"workers"}, short: "w", kind: kindInt,
		def: "1", env: "WEB_CONCURRENCY",
		help:      "run `N` worker processes",
		normalize: intRange(1, 10000),
		field:     func(c *Config) any { return &c.Workers },
	},
	{
		name: "worker_class", flags: []string{"worker-class"}, short: "k", kind: kindString,
		def:       "sync",
		help:      "worker `CLASS`: sync or gthread (sync with --threads above 1 becomes gthread) for a WSGI app, asgi for an ASGI app",
		normalize: normalizeWorkerClass,
		field:     func(c *Config) any { return &c.WorkerClass },
	},
	{
		name: "threads", flags: []string{"threads"}, kind: kindInt, def: "1",
		help:      "let `N` requests per worker run the app at once (Python threads)",
		normalize: intRange(1, 10000),
		field:     func(c *Config) any { return &c.Threads },
	},
}

// requestSettings: what a connection and a request may cost, the app,
// server mechanics, logging and proxies.
var requestSettings = []*setting{
	// Slow clients: what a connection may cost before it is closed
	{
		name: "header_timeout", flags: []string{"header-timeout"}, kind: kindSeconds, def: "30",
		help:      "close a connection that takes over `SECONDS` to send a request's headers, or its first byte (0 = never)",
		normalize: nonNegativeDuration,
		field:     func(c *Config) any { return &c.HeaderTimeout },
	},
	{
		name: "first_byte_timeout", flags: []string{"first-byte-timeout"}, kind: kindSeconds, def: "5",
		help:      "close a new connection that sends nothing for `SECONDS` (0 = --header-timeout applies)",
		normalize: nonNegativeDuration,
		field:     func(c *Config) any { return &c.FirstByteTimeout },
	},
	{
		name: "header_min_rate", flags: []string{"header-min-rate"}, kind: kindInt, def: "500",
		help:      "close a connection whose request head arrives slower than `BYTES` per second after its first --first-byte-timeout (0 = no minimum)",
		normalize: intRange(0, 1<<30),
		field:     func(c *Config) any { return &c.HeaderMinRate },
	},
	{
		name: "body_timeout", flags: []string{"body-timeout"}, kind: kindSeconds, def: "30",
		help:      "close a connection whose request body makes no progress for `SECONDS` (0 = never)",
		normalize: nonNegativeDuration,
		field:     func(c *Config) any { return &c.BodyTimeout },
	},
	{
		name: "body_min_rate", flags: []string{"body-min-rate"}, kind: kindInt, def: "500",
		help:      "close a connection whose request body, streaming to a WSGI app (past the body budgets), arrives slower than `BYTES` per second after its first --first-byte-timeout of waiting (0 = no minimum)",
		normalize: intRange(0, 1<<30),
		field:     func(c *Config) any { return &c.BodyMinRate },
	},
	{
		name: "write_timeout", flags: []string{"write-timeout"}, kind: kindSeconds, def: "30",
		help:      "close a connection whose client takes no response bytes for `SECONDS` (0 = never)",
		normalize: nonNegativeDuration,
		field:     func(c *Config) any { return &c.WriteTimeout },
	},
	{
		name: "max_buffered_body", flags: []string{"max-buffered-body"}, kind: kindInt64, def: "1048576",
		help:      "keep request bodies up to `BYTES` in memory; larger ones go to a temporary file",
		normalize: nonNegativeInt64,
		field:     func(c *Config) any { return &c.MaxBufferedBody },
	},
	{
		name: "body_memory_budget", flags: []string{"body-memory-budget"}, kind: kindInt64, def: "67108864",
		help:      "hold at most `BYTES` of request bodies in memory per worker; past it, bodies spill or stream (0 = none in memory)",
		normalize: nonNegativeInt64,
		field:     func(c *Config) any { return &c.BodyMemoryBudget },
	},
	{
		name: "body_spill_budget", flags: []string{"body-spill-budget"}, kind: kindInt64, def: "1073741824",
		help:      "write at most `BYTES` of request bodies to temporary files per worker; past it, bodies stream to the app (0 = none on disk)",
		normalize: nonNegativeInt64,
		field:     func(c *Config) any { return &c.BodySpillBudget },
	},
	{
		name: "response_buffer", flags: []string{"response-buffer"}, kind: kindInt, def: "4194304",
		help:      "buffer up to `BYTES` of a response for a slow client, so the app need not wait for it",
		normalize: intRange(0, 1<<30),
		field:     func(c *Config) any { return &c.ResponseBuffer },
	},
	{
		name: "response_memory_budget", flags: []string{"response-memory-budget"}, kind: kindInt64, def: "67108864",
		help:      "buffer at most `BYTES` of responses for slow clients per worker; past it, responses wait for their clients",
		normalize: nonNegativeInt64,
		field:     func(c *Config) any { return &c.ResponseMemoryBudget },
	},
	{
		// Gunicorn's name; its flag is --no-sendfile (negations, args.go),
		// and in a config file None means on, as in Gunicorn.
		name: "sendfile", flags: []string{"sendfile"}, kind: kindBool, def: "true", pyNone: "true",
		help:  "send wsgi.file_wrapper files with sendfile(2) (--no-sendfile: read and write them, for file systems where sendfile misbehaves)",
		field: func(c *Config) any { return &c.Sendfile },
	},

	// Security limits
	{
		name: "limit_request_line", flags: []string{"limit-request-line"}, kind: kindInt,
		def:       "4094",
		help:      "refuse request lines over `BYTES`, at most 8190 (0 or more = 8190, as in Gunicorn)",
		normalize: limitUpTo(maxRequestLine),
		field:     func(c *Config) any { return &c.LimitRequestLine },
	},
	{
		name: "limit_request_fields", flags: []string{"limit-request-fields"}, kind: kindInt,
		def:       "100",
		help:      "refuse requests with over `N` header fields, at most 32768 (0 or more = 32768, as in Gunicorn)",
		normalize: limitUpTo(maxRequestFields),
		field:     func(c *Config) any { return &c.LimitRequestFields },
	},
	{
		name: "limit_request_field_size", flags: []string{"limit-request-field_size", "limit-request-field-size"},
		kind: kindInt, def: "8190",
		help:      "refuse header field lines over `BYTES`, CRLF included (0 = 8190, as in Gunicorn main; never unlimited)",
		normalize: zeroMeans(defaultFieldSize),
		field:     func(c *Config) any { return &c.LimitRequestFieldSize },
	},
	{
		name: "limit_request_body", flags: []string{"limit-request-body"}, kind: kindInt64,
		def:       "0",
		help:      "refuse request bodies over `BYTES` (0 = unlimited)",
		normalize: nonNegativeInt64,
		field:     func(c *Config) any { return &c.LimitRequestBody },
	},
	{
		name: "header_map", flags: []string{"header-map"}, kind: kindString, def: HeaderMapDrop,
		help: "what a request header whose name has an underscore gets, `MODE`: drop (it is dropped) " +
			"or refuse (its request gets a 400)",
		normalize: normalizeHeaderMap,
		field:     func(c *Config) any { return &c.HeaderMap },
	},

	// Application
	{
		name: "chdir", flags: []string{"chdir"}, kind: kindString, def: "",
		help:      "change to `DIR` before loading the app",
		normalize: normalizeChdir,
		field:     func(c *Config) any { return &c.Chdir },
	},
	{
		name: "pythonpath", flags: []string{"pythonpath", "app-dir"}, kind: kindCSV, def: "",
		help:      "prepend the comma-separated `DIRS` to sys.path",
		normalize: eachItem(nonEmptyItem),
		field:     func(c *Config) any { return &c.PythonPath },
	},
	{
		name: "raw_env", flags: []string{"env"}, short: "e", kind: kindList, def: "",
		help:      "set `KEY=VALUE` in the app's environment; repeat for several",
		normalize: eachItem(normalizeEnvItem),
		field:     func(c *Config) any { return &c.Env },
	},
	{
		name: "virtualenv", flags: []string{"virtualenv"}, kind: kindString,
		def: "", env: "VIRTUAL_ENV",
		help:  "run the app in the Python virtualenv `DIR`",
		field: func(c *Config) any { return &c.Virtualenv },
	},
	{
		name: "preload_app", flags: []string{"preload"}, kind: kindBool, def: "false",
		help:  "import the app once in a zygote and fork the workers from it",
		field: func(c *Config) any { return &c.Preload },
	},
	{
		name: "no_gc_freeze", flags: []string{"no-gc-freeze"}, kind: kindBool, def: "false",
		help:  "with --preload, do not gc.freeze() the app's objects before forking (workers' collections then copy them)",
		field: func(c *Config) any { return &c.NoGCFreeze },
	},
	{
		name: "reload", flags: []string{"reload"}, kind: kindBool, def: "false",
		help:  "restart workers when the app's code changes (for development)",
		field: func(c *Config) any { return &c.Reload },
	},
	{
		name: "reload_extra_files", flags: []string{"reload-extra-file"}, kind: kindList, def: "",
		help:      "with --reload, also restart workers when `FILE` changes (repeatable)",
		normalize: eachItem(nonEmptyItem),
		field:     func(c *Config) any { return &c.ReloadExtraFiles },
	},
	{
		name: "reload_dirs", flags: []string{"reload-dir"}, kind: kindList, def: "",
		help:      "with --reload, watch the files under `DIR` instead of the app's directory and --pythonpath (repeatable; Uvicorn's --reload-dir)",
		normalize: eachItem(nonEmptyItem),
		field:     func(c *Config) any { return &c.ReloadDirs },
	},
	{
		name: "reload_includes", flags: []string{"reload-include"}, kind: kindList, def: "",
		help:      "with --reload, also watch the files matching `GLOB` (*.py always; repeatable; Uvicorn's --reload-include)",
		normalize: eachItem(reloadPattern),
		field:     func(c *Config) any { return &c.ReloadIncludes },
	},
	{
		name: "reload_excludes", flags: []string{"reload-exclude"}, kind: kindList, def: "",
		help:      "with --reload, ignore the files matching `GLOB`, or the directory it names (repeatable; Uvicorn's --reload-exclude)",
		normalize: eachItem(reloadPattern),
		field:     func(c *Config) any { return &c.ReloadExcludes },
	},

	// Server mechanics
	{
		name: "daemon", flags: []string{"daemon"}, short: "D", kind: kindBool, def: "false",
		help:  "detach from the terminal and run in the background, as Gunicorn's -D (use --pid and --error-logfile)",
		field: func(c *Config) any { return &c.Daemon },
	},
	{
		name: "enable_stdio_inheritance", flags: []string{"enable-stdio-inheritance"}, short: "R", kind: kindBool,
		def:   "false",
		help:  "with --daemon, keep stdout and stderr that are not a terminal (a file or pipe) instead of /dev/null",
		field: func(c *Config) any { return &c.EnableStdioInheritance },
	},
	{
		name: "pidfile", flags: []string{"pid"}, short: "p", kind: kindString, def: "",
		help:  "write the master's PID to `FILE`",
		field: func(c *Config) any { return &c.Pidfile },
	},
	{
		name: "user", flags: []string{"user"}, short: "u", kind: kindString, def: "", intOK: true,
		help:      "run workers as `USER` (name or uid)",
		normalize: validateUser,
		field:     func(c *Config) any { return &c.User },
	},
	{
		name: "group", flags: []string{"group"}, short: "g", kind: kindString, def: "", intOK: true,
		help:      "run workers as `GROUP` (name or gid)",
		normalize: validateGroup,
		field:     func(c *Config) any { return &c.Group },
	},
	{
		name: "umask", flags: []string{"umask"}, short: "m", kind: kindMask, def: "0",
		help:  "set the file mode creation mask to `MASK`: 0o022, 022 (octal) or 18",
		field: func(c *Config) any { return &c.Umask },
	},
	{
		name: "initgroups", flags: []string{"initgroups"}, kind: kindBool, def: "false",
		help:  "also give workers all groups of --user",
		field: func(c *Config) any { return &c.InitGroups },
	},
	{
		name: "proc_name", flags: []string{"name"}, short: "n", kind: kindString, def: "",
		help:  "show the processes as `NAME` in ps and top",
		field: func(c *Config) any { return &c.ProcName },
	},

	// Logging
	{
		name: "accesslog", flags: []string{"access-logfile"}, kind: kindString, def: "",
		help:  "write the access log to `FILE`, - for stdout (default: none)",
		field: func(c *Config) any { return &c.AccessLog },
	},
	{
		name: "access_log_format", flags: []string{"access-logformat"}, kind: kindString,
		def:       defaultAccessLogFormat,
		help:      "format access log lines as `FORMAT`, with Gunicorn's %(x)s atoms",
		normalize: validateAccessLogFormat,
		field:     func(c *Config) any { return &c.AccessLogFormat },
	},
	{
		name: "errorlog", flags: []string{"error-logfile", "log-file"}, kind: kindString,
		def:   "-",
		help:  "write the error log to `FILE`, - for stderr",
		field: func(c *Config) any { return &c.ErrorLog },
	},
	{
		name: "loglevel", flags: []string{"log-level"}, kind: kindString, def: "info",
		help:      "log at `LEVEL` and above: debug, info, warning, error or critical",
		normalize: normalizeLogLevel,
		field:     func(c *Config) any { return &c.LogLevel },
	},
	{
		name: "log_format", flags: []string{"log-format"}, kind: kindString, def: "",
		help:      "write the error log as `FORMAT`: console, json, or gunicorn (Gunicorn's line layout) (default: console on a terminal, json otherwise)",
		normalize: normalizeLogFormat,
		field:     func(c *Config) any { return &c.LogFormat },
	},
	{
		name: "logger_class", flags: []string{"logger-class"}, kind: kindString, def: "",
		help:      "log through `CLASS`, a subclass of Gunicorn's gunicorn.glogging.Logger (module.Class)",
		normalize: normalizeLoggerClass, // logclass.go
		field:     func(c *Config) any { return &c.LoggerClass },
	},
	{
		name: "capture_output", flags: []string{"capture-output"}, kind: kindBool, def: "false",
		help:  "send the app's stdout and stderr to the error log",
		field: func(c *Config) any { return &c.CaptureOutput },
	},
	{
		name: "statsd_host", flags: []string{"statsd-host"}, kind: kindString, def: "",
		help:      "send Gunicorn's StatsD metrics to `ADDRESS`: HOST:PORT (UDP, port 8125 by default) or unix:PATH (off when empty)",
		normalize: normalizeStatsdHost, // statsd.go
		field:     func(c *Config) any { return &c.StatsdHost },
	},
	{
		name: "statsd_prefix", flags: []string{"statsd-prefix"}, kind: kindString, def: "",
		help:      "put `PREFIX` before each StatsD metric name (a dot is added when missing)",
		normalize: normalizeStatsdPrefix,
		field:     func(c *Config) any { return &c.StatsdPrefix },
	},
	{
		name: "dogstatsd_tags", flags: []string{"dogstatsd-tags"}, kind: kindString, def: "",
		help:      "append DogStatsD `TAGS` (comma-separated, as in env:prod,service:web) to each StatsD metric",
		normalize: normalizeDogstatsdTags,
		field:     func(c *Config) any { return &c.DogstatsdTags },
	},
	{
		name: "enable_backlog_metric", flags: []string{"enable-backlog-metric"}, kind: kindBool, def: "false",
		help:  "send gunicorn.backlog to StatsD every second: the connections waiting in the TCP listen queues",
		field: func(c *Config) any { return &c.EnableBacklogMetric },
	},

	// Proxies
	{
		name: "forwarded_allow_ips", flags: []string{"forwarded-allow-ips"}, kind: kindCSV,
		def: "127.0.0.1,::1", env: "FORWARDED_ALLOW_IPS",
		help:      "trust secure-scheme headers from the comma-separated `IPS` (addresses or CIDRs, * for any)",
		normalize: eachItem(normalizeAllowedIP),
		field:     func(c *Config) any { return &c.ForwardedAllowIPs },
	},
	{
		name: "secure_scheme_headers", flags: []string{"secure-scheme-headers"}, kind: kindJSON,
		def:       `{"X-FORWARDED-PROTOCOL": "ssl", "X-FORWARDED-PROTO": "https", "X-FORWARDED-SSL": "on"}`,
		help:      "the headers a --forwarded-allow-ips peer reports the scheme in, and the value of each that means https, as a `JSON` object (a dict in gunicorn.conf.py; {} for none)",
		normalize: normalizeSchemeHeaders,
		field:     func(c *Config) any { return &c.SecureSchemeHeaders },
	},
	{
		name: "proxy_protocol", flags: []string{"proxy-protocol"}, kind: kindBool, def: "false",
		// Gunicorn 26's modes; gowsgi reads version 1 and 2 headers alike.
		modes: map[string]bool{"off": false, "none": false, "0": false, "false": false, "auto": true, "v1": true, "v2": true,
			"1": true, "true": true},
		help:  "accept the PROXY protocol header (version 1 or 2) from trusted proxies",
		field: func(c *Config) any { return &c.ProxyProtocol },
	},
	{
		name: "proxy_allow_ips", flags: []string{"proxy-allow-from"}, kind: kindCSV,
		def:       "127.0.0.1",
		help:      "accept PROXY protocol headers from the comma-separated `IPS` (addresses or CIDRs, * for any)",
		normalize: eachItem(normalizeAllowedIP),
		field:     func(c *Config) any { return &c.ProxyAllowFrom },
	},
	{
		name: "protocol", flags: []string{"protocol"}, kind: kindString, def: ProtocolHTTP,
		help:      "speak `PROTOCOL` on every listener: http, or uwsgi for nginx uwsgi_pass and Apache mod_proxy_uwsgi",
		normalize: normalizeProtocol,
		field:     func(c *Config) any { return &c.Protocol },
	},
	{
		name: "uwsgi_allow_ips", flags: []string{"uwsgi-allow-from"}, kind: kindCSV,
		def:       "127.0.0.1,::1",
		help:      "accept uwsgi requests from the comma-separated `IPS` (addresses or CIDRs, * for any); unix-socket peers always",
		normalize: eachItem(normalizeAllowedIP),
		field:     func(c *Config) any { return &c.UwsgiAllowIPs },
	},
}

var operabilitySettings = []*setting{
	// Operability (operability.go)
	{
		name: "admin_bind", flags: []string{"admin-bind"}, kind: kindString, def: "",
		help:      "serve /metrics, /healthz, /readyz and /status from the master on `ADDRESS` (HOST:PORT or unix:PATH; off when empty)",
		normalize: normalizeAdminBind,
		field:     func(c *Config) any { return &c.AdminBind },
	},
	{
		name: "shutdown_delay", flags: []string{"shutdown-delay"}, kind: kindSeconds, def: "0",
		help:      "after TERM, keep serving for `SECONDS` while /readyz already fails, so load balancers stop sending first",
		normalize: nonNegativeDuration,
		field:     func(c *Config) any { return &c.ShutdownDelay },
	},
	{
		name: "request_timeout", flags: []string{"request-timeout"}, kind: kindSeconds, def: "0",
		help:      "raise an exception in a request that runs the app longer than `SECONDS` and answer 504 (0 = never)",
		normalize: nonNegativeDuration,
		field:     func(c *Config) any { return &c.RequestTimeout },
	},
	{
		name: "max_worker_memory", flags: []string{"max-worker-memory"}, kind: kindInt, def: "0",
		help:      "replace a worker whose private memory (USS) exceeds `MB` megabytes, between requests (0 = never)",
		normalize: intRange(0, 1<<30),
		field:     func(c *Config) any { return &c.MaxWorkerMemory },
	},
	{
		name: "request_id_header", flags: []string{"request-id-header"}, kind: kindString, def: "X-Request-ID",
		help:      "keep the request id a client sends in header `NAME`, or make one; echoed in the response and logs",
		normalize: normalizeHeaderName,
		field:     func(c *Config) any { return &c.RequestIDHeader },
	},
}

// switches are command-line flags that choose what Load's caller does
// rather than setting a value; they have no TOML key.
var switches = []*setting{
	{
		name: "config", flags: []string{"config"}, short: "c", kind: kindString,
		help: "read settings from `FILE`: TOML, or Python as Gunicorn's (FILE.py, python:MODULE); default ./gunicorn.conf.py or ./gowsgi.toml when present",
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

const defaultAccessLogFormat = `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`

// Gunicorn's hard ceilings (gunicorn/http/message.py); a limit of 0 means
// the ceiling.
const (
	maxRequestLine = 8190
	// defaultFieldSize is Gunicorn's DEFAULT_MAX_HEADERFIELD_SIZE: what
	// --limit-request-field_size 0 stands for, as in Gunicorn main, where
	// 0 no longer means unlimited.
	defaultFieldSize = 8190
	maxRequestFields = 32768
	maxInt           = int(^uint(0) >> 1)
)
