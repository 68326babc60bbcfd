package config

import (
	"time"

	"github.com/gowsgi/gowsgi/errorlog"
)

// Config is the fully resolved configuration of one gowsgi instance.
//
// The master resolves it once (defaults < config file < *_CMD_ARGS <
// command line) and hands it to every worker as JSON, so workers never
// re-parse flags, TOML or the environment. Every field must therefore
// survive a JSON round trip.
type Config struct {
	// App is the WSGI application spec: "module:callable",
	// "module:factory()" or "module" (meaning module:application).
	App string `json:"app"`

	// Bind lists the listeners, each normalised by Load to one of
	// "HOST:PORT", "[IPv6]:PORT", "unix:PATH" or "fd://N".
	Bind              []string      `json:"bind"`
	Backlog           int           `json:"backlog"`            // listen(2) backlog
	ReusePort         bool          `json:"reuse_port"`         // SO_REUSEPORT on TCP listeners
	Workers           int           `json:"workers"`            // -w
	WorkerClass       string        `json:"worker_class"`       // -k; "sync", "gthread" or "asgi"
	Threads           int           `json:"threads"`            // Python threads per worker
	WorkerConnections int           `json:"worker_connections"` // open connections per worker
	LimitConcurrency  int           `json:"limit_concurrency"`  // 503 past this many open connections per worker, 0 = none
	Timeout           time.Duration `json:"timeout"`            // -t; worker liveness, 0 = off
	GracefulTimeout   time.Duration `json:"graceful_timeout"`   // TERM → KILL grace
	KeepAlive         time.Duration `json:"keepalive"`          // idle keep-alive timeout
	HeaderTimeout     time.Duration `json:"header_timeout"`     // first byte to last header of a request, 0 = none
	FirstByteTimeout  time.Duration `json:"first_byte_timeout"` // a new connection's first byte, 0 = HeaderTimeout
	HeaderMinRate     int           `json:"header_min_rate"`    // bytes/s a head must keep up after FirstByteTimeout, 0 = none
	BodyTimeout       time.Duration `json:"body_timeout"`       // longest wait for request body bytes, 0 = none
	BodyMinRate       int           `json:"body_min_rate"`      // bytes/s a body streaming to the app must keep up, 0 = none
	WriteTimeout      time.Duration `json:"write_timeout"`      // longest wait for a client to take response bytes, 0 = none
	MaxBufferedBody   int64         `json:"max_buffered_body"`  // request bodies past this spill to a file
	ResponseBuffer    int           `json:"response_buffer"`    // response bytes buffered for a slow client
	// ResponseMemoryBudget bounds the response bytes a worker buffers for
	// slow clients in all (the outboxes' storage).
	ResponseMemoryBudget int64 `json:"response_memory_budget"`
	// Sendfile sends wsgi.file_wrapper files with sendfile(2); false
	// (--no-sendfile) reads and writes them.
	Sendfile bool `json:"sendfile"`
	// Per-worker budgets for the request bodies read before the app runs
	// (worker/reqbody.go): in memory, and spilled to temporary files.
	BodyMemoryBudget int64 `json:"body_memory_budget"`
	BodySpillBudget  int64 `json:"body_spill_budget"`
	// NoSchedBatch keeps workers under SCHED_OTHER (worker/sched.go).
	NoSchedBatch      bool `json:"no_sched_batch"`
	MaxRequests       int  `json:"max_requests"` // 0 = off
	MaxRequestsJitter int  `json:"max_requests_jitter"`

	// The ASGI worker (asgi.go): Uvicorn's --loop ("auto", "asyncio",
	// "uvloop") and --lifespan ("auto", "on", "off").
	ASGILoop     string `json:"asgi_loop"`
	ASGILifespan string `json:"asgi_lifespan"`
	// RootPath is --root-path: the mount point, "" for the SCRIPT_NAME
	// environment variable's.
	RootPath string `json:"root_path"`
	// ProxyHeaders is Uvicorn's --proxy-headers: an ASGI scope's client
	// is what a --forwarded-allow-ips peer's X-Forwarded-For names.
	ProxyHeaders bool `json:"proxy_headers"`
	// WebSocket limits of the ASGI worker, Uvicorn's --ws-max-size,
	// --ws-ping-interval and --ws-ping-timeout (0 interval: no pings).
	WSMaxSize      int           `json:"ws_max_size"`
	WSPingInterval time.Duration `json:"ws_ping_interval"`
	WSPingTimeout  time.Duration `json:"ws_ping_timeout"`

	LimitRequestLine      int   `json:"limit_request_line"`
	LimitRequestFields    int   `json:"limit_request_fields"`
	LimitRequestFieldSize int   `json:"limit_request_field_size"`
	LimitRequestBody      int64 `json:"limit_request_body"` // 0 = unlimited

	Chdir      string   `json:"chdir"`
	PythonPath []string `json:"pythonpath"`
	Env        []string `json:"raw_env"` // -e KEY=VALUE, KEY never empty
	Virtualenv string   `json:"virtualenv"`
	Preload    bool     `json:"preload_app"`
	NoGCFreeze bool     `json:"no_gc_freeze"` // --preload: skip gc.freeze() in the zygote
	Reload     bool     `json:"reload"`
	// EnvFile is --env-file (dotenv.go); EnvFileVars, not a setting, are
	// its KEY=VALUE items as the master read them, for EnvFromFile.
	EnvFile     string   `json:"env_file"`
	EnvFileVars []string `json:"env_file_vars"`
	// FileEnv, not a setting, is what a Python config file changed in
	// os.environ as it ran (KEY=VALUE set, KEY alone removed), for
	// EnvChanges.
	FileEnv []string `json:"file_env"`
	// ServerSoftware, not a setting, is the WSGI environ's
	// SERVER_SOFTWARE when a Python config file set
	// gunicorn.SERVER_SOFTWARE (pyfile.go); nil for gowsgi's own.
	ServerSoftware *string `json:"server_software,omitempty"`
	// ServerHeader, not a setting, is "Server: VALUE" when a Python
	// config file set gunicorn.SERVER (pyfile.go): the Server field of
	// responses without one, unless ResponseHeaders has one.
	ServerHeader *string `json:"server_header,omitempty"`
	// ReloadExtraFiles are watched by --reload besides the app's .py files.
	ReloadExtraFiles []string `json:"reload_extra_files"`
	// Uvicorn's --reload-dir, --reload-include and --reload-exclude: the
	// directories --reload watches instead of the app's, and glob
	// patterns (Python's PurePath.match) of the files it also watches and
	// ignores (master/watch.go).
	ReloadDirs     []string `json:"reload_dirs"`
	ReloadIncludes []string `json:"reload_includes"`
	ReloadExcludes []string `json:"reload_excludes"`

	// Daemon: the command line detaches a new session and exits
	// (cmd/gowsgi/daemon.go); EnableStdioInheritance keeps its stdout and
	// stderr when they are not a terminal.
	Daemon                 bool `json:"daemon"`
	EnableStdioInheritance bool `json:"enable_stdio_inheritance"`

	Pidfile  string `json:"pidfile"`
	User     string `json:"user"`
	Group    string `json:"group"`
	Umask    int    `json:"umask"`
	ProcName string `json:"proc_name"`
	// InitGroups sets the workers' supplementary groups from User's
	// group memberships (initgroups(3)) when dropping privileges.
	InitGroups bool `json:"initgroups"`

	AccessLog       string `json:"accesslog"` // "" = off, "-" = stdout
	AccessLogFormat string `json:"access_log_format"`
	ErrorLog        string `json:"errorlog"` // "-" = stderr
	LogLevel        string `json:"loglevel"`
	LogFormat       string `json:"log_format"` // "console", "json", "gunicorn" or "" (auto: console on a TTY)
	CaptureOutput   bool   `json:"capture_output"`
	// Python's logging, which each worker sets up before it loads the
	// app (logconfig.go): the first one set applies.
	LogConfigDict string `json:"logconfig_dict"` // a logging.config.dictConfig dict, as JSON; "" = none
	LogConfigJSON string `json:"logconfig_json"` // a JSON file holding such a dict
	LogConfig     string `json:"logconfig"`      // a fileConfig file (.json, .yaml, .yml: a dictConfig one)
	// LoggerClass is Gunicorn's logger_class other than its own Logger,
	// made in each worker (worker/pylogging.py): "module.Class", the
	// config file's own being "__config__.NAME"; "" for none.
	LoggerClass string `json:"logger_class"`
	// Gunicorn's syslog settings (syslog.go).
	Syslog                        bool   `json:"syslog"`
	SyslogAddr                    string `json:"syslog_addr"`
	SyslogPrefix                  string `json:"syslog_prefix"`
	SyslogFacility                string `json:"syslog_facility"`
	DisableRedirectAccessToSyslog bool   `json:"disable_redirect_access_to_syslog"`
	// Paste is --paste, the PasteDeploy file App was made from (paste.go);
	// PasteGlobalConf its global_conf, as KEY=VALUE items.
	Paste           string   `json:"paste"`
	PasteGlobalConf []string `json:"raw_paste_global_conf"`
	// StatsD (statsd.go): StatsdHost is "" (off), "HOST:PORT",
	// "[IPv6]:PORT" or "unix:PATH".
	StatsdHost    string `json:"statsd_host"`
	StatsdPrefix  string `json:"statsd_prefix"`  // as given; statsd.Prefix adds the dot
	DogstatsdTags string `json:"dogstatsd_tags"` // as given: "env:prod,service:web"
	// EnableBacklogMetric sends gunicorn.backlog (with StatsdHost).
	EnableBacklogMetric bool `json:"enable_backlog_metric"`

	ForwardedAllowIPs []string `json:"forwarded_allow_ips"`
	// HeaderMap is Gunicorn's header_map: what becomes of a request
	// header whose name has an underscore (HeaderMapDrop, HeaderMapRefuse).
	HeaderMap string `json:"header_map"`
	// SecureSchemeHeaders is Gunicorn's secure_scheme_headers, a JSON
	// object of header name: the value meaning https ("" for none);
	// SchemeHeaders reads it.
	SecureSchemeHeaders string   `json:"secure_scheme_headers"`
	ProxyProtocol       bool     `json:"proxy_protocol"`
	ProxyAllowFrom      []string `json:"proxy_allow_ips"`
	// Protocol is what the listeners speak: ProtocolHTTP or ProtocolUwsgi.
	Protocol      string   `json:"protocol"`
	UwsgiAllowIPs []string `json:"uwsgi_allow_ips"` // peers allowed to send uwsgi packets

	// TLS (tls.go): HTTPS on every listener when CertFile is set.
	CertFile string `json:"certfile"`
	KeyFile  string `json:"keyfile"` // "" = the key is in CertFile
	// SSLKeyfilePassword decrypts an encrypted KeyFile (pemkey). It stays
	// in the master: workers get the decrypted key in TLS, never this.
	SSLKeyfilePassword string `json:"-"`
	CACerts            string `json:"ca_certs"` // client CAs, for CertReqs 1 and 2
	CertReqs           int    `json:"cert_reqs"`
	SSLVersion         string `json:"ssl_version"` // the minimum: SSLVersionTLS12 or SSLVersionTLS13
	Ciphers            string `json:"ciphers"`     // an OpenSSL cipher string, as written (ciphers.go)
	// PlainBind are the Bind addresses that serve plain HTTP.
	PlainBind            []string `json:"plain_bind"`
	DoHandshakeOnConnect bool     `json:"do_handshake_on_connect"`
	SuppressRaggedEOFs   bool     `json:"suppress_ragged_eofs"`
	// TLS is the certificate material the master read from the files
	// above (master/tls.go), so workers never open them (they may run
	// as a user who cannot); nil when TLS is off. Not a setting.
	TLS *TLSMaterial `json:"tls_material,omitempty"`

	AdminBind       string        `json:"admin_bind"`        // "" = no admin listener
	ShutdownDelay   time.Duration `json:"shutdown_delay"`    // TERM → stop accepting
	RequestTimeout  time.Duration `json:"request_timeout"`   // 0 = off
	MaxWorkerMemory int           `json:"max_worker_memory"` // MB of USS, 0 = off
	RequestIDHeader string        `json:"request_id_header"` // canonical header name
	// ResponseHeaders are "NAME: VALUE" fields added to every response
	// without a NAME field (Uvicorn's --header).
	ResponseHeaders []string `json:"response_headers"`

	// ConfigFile is the config file the settings were read from, if
	// any: a TOML file, a Python file (absolute paths) or python:MODULE;
	// the master re-reads it on HUP.
	ConfigFile string `json:"config"`
	// Hooks names the server hooks the Python config file defines
	// (on_starting, post_fork, ...), sorted as the file defines them.
	Hooks []string `json:"hooks"`

	// Notices are one-line warnings about the configuration (Gunicorn
	// settings accepted and ignored, unknown names in a Python config
	// file) for the caller of Load to log. Not passed to workers.
	Notices []string `json:"-"`
	// remarks are the Notices about settings whose purpose gowsgi serves
	// another way (setting.served): Remark tells them apart.
	remarks map[string]bool
	// DetectASGI: no source named a worker class, so a worker serves an
	// async app as ASGI (WorkerClass then becomes "asgi" in that worker)
	// and any other as WSGI. Set by Load, not a setting.
	DetectASGI bool `json:"detect_asgi"`
	// sslContextHook is where a Python config file defines Gunicorn's
	// ssl_context hook ("" if it does not): refused with --certfile
	// (gowsgi cannot run it), noticed without (Gunicorn never calls it).
	sslContextHook string
	// argNames are the settings the command line and the *_CMD_ARGS
	// variables give (Load): their values replace the config file's, so
	// a refusal of the file's value does not stop gowsgi.
	argNames map[string]bool
	// fileAction is what a Python config file's check_config or
	// print_config asks (Gunicorn honours them there too); Load combines
	// it with the command line's.
	fileAction Action
	// formatFrom is where access_log_format was last set (an Error's
	// Source and Name), for noteUnknownAtoms, which can judge its
	// atoms only once logger_class is known; nil for the default.
	formatFrom *Error
}

// Remark reports whether notice n (one of Notices) is a remark, to log
// at info level: a setting whose purpose gowsgi serves another way
// (worker_tmp_dir), not one whose effect is missing.
func (c *Config) Remark(n string) bool { return c.remarks[n] }

// remark adds n to Notices as a remark.
func (c *Config) remark(n string) {
	if c.remarks == nil {
		c.remarks = map[string]bool{}
	}
	c.remarks[n] = true
}

// ErrorLogOptions are the settings the error log of every process
// opens with (errorlog.Open).
func (c *Config) ErrorLogOptions() errorlog.Options {
	return errorlog.Options{Path: c.ErrorLog, Level: c.LogLevel, Format: c.LogFormat, Syslog: c.SyslogOptions()}
}
