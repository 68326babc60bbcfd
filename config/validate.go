package config

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gowsgi/gowsgi/accesslog"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/hostport"
	"github.com/gowsgi/gowsgi/sysuser"
)

// Validators take and return the Go type of the field they check; see
// setting.normalize. Each quotes the offending value in its error.

func intRange(lo, hi int) func(any) (any, error) {
	return func(v any) (any, error) {
		n := v.(int)
		if n < lo {
			return nil, fmt.Errorf("must be at least %d, got %d", lo, n)
		}
		if n > hi {
			return nil, fmt.Errorf("must be at most %d, got %d", hi, n)
		}
		return n, nil
	}
}

// limitUpTo accepts 0 to ceiling and turns 0 into the ceiling, which is
// what 0 means for Gunicorn's request line and header count limits.
func limitUpTo(ceiling int) func(any) (any, error) {
	check := intRange(0, maxInt)
	return func(v any) (any, error) {
		if _, err := check(v); err != nil {
			return nil, err
		}
		if n := v.(int); n == 0 || n > ceiling {
			return ceiling, nil
		}
		return v, nil
	}
}

// zeroMeans accepts any non-negative int and turns 0 into def: Gunicorn
// main's --limit-request-field_size 0 is its default, not "unlimited".
func zeroMeans(def int) func(any) (any, error) {
	check := intRange(0, maxInt)
	return func(v any) (any, error) {
		if _, err := check(v); err != nil {
			return nil, err
		}
		if v.(int) == 0 {
			return def, nil
		}
		return v, nil
	}
}

func nonNegativeInt64(v any) (any, error) {
	if n := v.(int64); n < 0 {
		return nil, fmt.Errorf("must not be negative, got %d", n)
	}
	return v, nil
}

func nonNegativeDuration(v any) (any, error) {
	if d := v.(time.Duration); d < 0 {
		return nil, fmt.Errorf("must not be negative, got %s", d)
	}
	return v, nil
}

// eachItem applies check to every item of a []string value.
func eachItem(check func(string) (string, error)) func(any) (any, error) {
	return func(v any) (any, error) {
		items := v.([]string)
		out := make([]string, 0, len(items))
		for _, item := range items {
			norm, err := check(item)
			if err != nil {
				return nil, err
			}
			out = append(out, norm)
		}
		return out, nil
	}
}

// pathless is a file error without the path, which the message built
// from it names in its own words ("no such file or directory").
func pathless(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func nonEmptyItem(item string) (string, error) {
	if item == "" {
		return "", errors.New("empty item")
	}
	return item, nil
}

// unixPathMax is the usable length of sockaddr_un.sun_path on Linux
// (108 bytes including the terminating NUL).
const unixPathMax = 107

// normalizeBind checks one listen address and writes it in canonical form.
// Accepted, as by Gunicorn's util.parse_address:
//
//	HOST:PORT, HOST (port 8000), :PORT (all interfaces), tcp://HOST:PORT
//	[IPv6]:PORT, [IPv6] (port 8000)
//	unix:PATH, unix://PATH    -> unix:PATH
//	fd://N                    -> fd://N
func normalizeBind(addr string) (string, error) {
	switch {
	case strings.HasPrefix(addr, "unix:"):
		path := strings.TrimPrefix(strings.TrimPrefix(addr, "unix:"), "//")
		if path == "" {
			return "", fmt.Errorf("bind %q: empty unix socket path", addr)
		}
		if len(path) > unixPathMax {
			return "", fmt.Errorf("bind %q: unix socket path is %d bytes, the limit is %d", addr, len(path), unixPathMax)
		}
		if strings.IndexByte(path, 0) >= 0 {
			return "", fmt.Errorf("bind %q: NUL byte in unix socket path", addr)
		}
		if strings.HasPrefix(path, "//") {
			return "unix://" + path, nil // so that it parses back to the same path
		}
		return "unix:" + path, nil
	case strings.HasPrefix(addr, "fd://"):
		fd, err := strconv.ParseUint(addr[len("fd://"):], 10, 31)
		if err != nil {
			return "", fmt.Errorf("bind %q: want fd://N with N a file descriptor number", addr)
		}
		return "fd://" + strconv.FormatUint(fd, 10), nil
	}
	// Port 8000 when none is given, like Gunicorn's.
	host, port, err := hostport.Split(strings.TrimPrefix(addr, "tcp://"), "8000")
	if err != nil {
		return "", fmt.Errorf("bind %q: %w", addr, err)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", fmt.Errorf("bind %q: port %q is not a number from 0 to 65535", addr, port)
	}
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.FormatUint(n, 10), nil
	}
	return host + ":" + strconv.FormatUint(n, 10), nil
}

// asyncWorkerClasses are Gunicorn worker classes gowsgi rejects because
// its connection handling already is what they are for.
var asyncWorkerClasses = []string{"gevent", "eventlet", "tornado"}

// normalizeWorkerClass accepts sync and gthread, also under their Gunicorn
// class paths, asgi under Uvicorn's too (asgi.go), each also written as
// Gunicorn's load_class takes it ("#sync", the entry point
// "egg:gunicorn#sync", "egg:gunicorn" alone meaning sync), and explains
// why the async worker classes are refused.
func normalizeWorkerClass(v any) (any, error) {
	class := v.(string)
	name := strings.TrimSpace(class)
	if rest, ok := strings.CutPrefix(name, "egg:gunicorn"); ok && (rest == "" || rest[0] == '#') {
		name = cmp.Or(strings.TrimPrefix(rest, "#"), "sync")
	}
	switch name = strings.TrimPrefix(name, "#"); name {
	case "sync", "gunicorn.workers.sync.SyncWorker":
		return "sync", nil
	case "gthread", "gunicorn.workers.gthread.ThreadWorker":
		return "gthread", nil
	}
	if slices.Contains(asgiWorkerClasses, name) {
		return WorkerClassASGI, nil
	}
	lower := strings.ToLower(class)
	if isDottedPath(name) && !strings.HasPrefix(lower, "gunicorn.") && !strings.HasPrefix(lower, "uvicorn") {
		return name, nil // a project's own class: resolveWorkerClass finds what it subclasses
	}
	if strings.Contains(lower, "uvicorn") {
		return nil, fmt.Errorf("unknown worker class %q: for an ASGI app use asgi "+
			"(uvicorn.workers.UvicornWorker, uvicorn_worker.UvicornWorker and their H11 variants mean the same)", class)
	}
	for _, async := range asyncWorkerClasses {
		if strings.Contains(lower, async) {
			return nil, fmt.Errorf("worker class %q is not needed with gowsgi: its goroutines already make "+
				"slow and idle clients cheap, so use sync (or --threads N for concurrent app calls)", class)
		}
	}
	return nil, fmt.Errorf("unknown worker class %q: gowsgi has sync and gthread for WSGI apps, asgi for ASGI apps", class)
}

// isDottedPath reports whether s is a Python import path of a name in a
// module: identifiers joined by dots, at least two.
func isDottedPath(s string) bool {
	parts := strings.Split(s, ".")
	for _, p := range parts {
		if !isIdentifier(p) {
			return false
		}
	}
	return len(parts) >= 2
}

// normalizeAppSpec checks a WSGI app spec: MODULE, MODULE:NAME or
// MODULE:NAME(ARGS), MODULE a dotted Python module path.
func normalizeAppSpec(v any) (any, error) {
	spec := v.(string)
	if spec == "" || strings.HasPrefix(spec, "config:/") { // a PasteDeploy URI: --paste (paste.go)
		return spec, nil
	}
	module, object, hasObject := strings.Cut(spec, ":")
	if strings.HasSuffix(module, ".py") || strings.Contains(module, "/") {
		base := strings.TrimSuffix(filepath.Base(module), ".py")
		return nil, fmt.Errorf("app %q: give a module path, not a file name (did you mean %q?)", spec, base+":"+objectOrDefault(object))
	}
	for _, part := range strings.Split(module, ".") {
		if !isIdentifier(part) {
			return nil, fmt.Errorf("app %q: %q is not a Python module path", spec, module)
		}
	}
	if hasObject {
		name, _, isCall := strings.Cut(object, "(")
		if !isIdentifier(name) || isCall && !strings.HasSuffix(object, ")") {
			return nil, fmt.Errorf("app %q: %q is neither a name nor a call such as create_app()", spec, object)
		}
	}
	return spec, nil
}

func objectOrDefault(object string) string {
	if object == "" {
		return "application"
	}
	return object
}

// isIdentifier reports whether s is a Python identifier (PEP 3131,
// approximated by Unicode letters, digits and underscore).
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || unicode.IsLetter(r) || i > 0 && unicode.IsDigit(r) {
			continue
		}
		return false
	}
	return true
}

// normalizeChdir makes the directory absolute and checks that it exists,
// so a typo is reported by Load rather than by a worker.
func normalizeChdir(v any) (any, error) {
	dir := v.(string)
	if dir == "" {
		return dir, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("chdir %q: %w", dir, err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("can't chdir to %q: %w", dir, errors.Unwrap(err))
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("can't chdir to %q: not a directory", dir)
	}
	return abs, nil
}

// normalizeEnvItem checks KEY=VALUE with a non-empty KEY.
func normalizeEnvItem(item string) (string, error) {
	key, _, found := strings.Cut(item, "=")
	switch {
	case !found:
		return "", fmt.Errorf("env %q: want KEY=VALUE", item)
	case key == "":
		return "", fmt.Errorf("env %q: empty variable name", item)
	case strings.IndexByte(item, 0) >= 0:
		return "", fmt.Errorf("env %q: NUL byte", item)
	}
	return item, nil
}

// validateUser accepts "" (do not switch), a uid, or a known user name.
func validateUser(v any) (any, error) {
	name := v.(string)
	if name == "" || sysuser.Numeric(name) {
		return name, nil
	}
	if _, err := user.Lookup(name); err != nil {
		return nil, fmt.Errorf("no such user %q", name)
	}
	return name, nil
}

// validateGroup accepts "" (do not switch), a gid, or a known group name.
func validateGroup(v any) (any, error) {
	name := v.(string)
	if name == "" || sysuser.Numeric(name) {
		return name, nil
	}
	if _, err := user.LookupGroup(name); err != nil {
		return nil, fmt.Errorf("no such group %q", name)
	}
	return name, nil
}

func normalizeLogLevel(v any) (any, error) {
	level := strings.ToLower(strings.TrimSpace(v.(string)))
	switch level {
	case "trace":
		level = "debug" // Uvicorn's level below debug: gowsgi has none
	case "warn", "fatal":
		// Python's logging's own aliases (logging.WARN, logging.FATAL);
		// Gunicorn, which knows only the five names, would run at info.
		level = map[string]string{"warn": "warning", "fatal": "critical"}[level]
	}
	for _, l := range errorlog.Levels {
		if level == l {
			return level, nil
		}
	}
	return nil, fmt.Errorf("log level %q: want one of %s", v, strings.Join(errorlog.Levels, ", "))
}

// normalizeLogFormat accepts console, json, gunicorn (Gunicorn's line
// layout), and "" or auto (console on a terminal, json otherwise), which
// it stores as "".
func normalizeLogFormat(v any) (any, error) {
	switch f := strings.ToLower(strings.TrimSpace(v.(string))); f {
	case "console", "json", "gunicorn":
		return f, nil
	case "", "auto":
		return "", nil
	}
	return nil, fmt.Errorf("log format %q: want console, json or gunicorn", v)
}

// normalizeAllowedIP accepts "*", an IP address or a CIDR prefix.
func normalizeAllowedIP(item string) (string, error) {
	if item == "*" {
		return item, nil
	}
	if ip, err := netip.ParseAddr(item); err == nil {
		return ip.String(), nil
	}
	if p, err := netip.ParsePrefix(item); err == nil {
		return p.String(), nil
	}
	return "", fmt.Errorf("%q is not *, an IP address or a CIDR network", item)
}

// validateAccessLogFormat accepts what accesslog.ParseOpen compiles, so
// a malformed format stops the start instead of every request's log line.
func validateAccessLogFormat(v any) (any, error) {
	if _, err := accesslog.ParseOpen(v.(string)); err != nil {
		return nil, err
	}
	return v, nil
}

// noteUnknownAtoms gives a notice for the atoms the access log format
// does not know, a typo or a Python logging attribute (%(asctime)s)
// that Gunicorn writes as "-", and so does gowsgi: a config that runs
// under Gunicorn starts. Not with a logger class, whose atoms() may add
// them.
func noteUnknownAtoms(c *Config) {
	from := c.formatFrom
	c.formatFrom = nil // the Config that Load returns holds no bookkeeping
	if c.LoggerClass != "" {
		return
	}
	f, err := accesslog.ParseOpen(c.AccessLogFormat)
	if err != nil { // refused when it was set
		return
	}
	unknown := f.UnknownAtoms()
	if len(unknown) == 0 {
		return
	}
	what := unknown[0] + " is not an access log atom"
	if len(unknown) > 1 {
		what = strings.Join(unknown, ", ") + " are not access log atoms"
	}
	e := &Error{Name: "access_log_format"}
	if from != nil {
		*e = *from
	}
	e.Err = errors.New(what + `; logged as "-", as under Gunicorn`)
	c.Notices = append(c.Notices, e.Error())
}

// noteFormatFrom records where s was set, when it is access_log_format.
func (c *Config) noteFormatFrom(s *setting, source, name string) {
	if s.name == "access_log_format" {
		c.formatFrom = &Error{Source: source, Name: name}
	}
}

// Values of Config.HeaderMap, Gunicorn's header_map: a request header
// whose name has an underscore would map to the same environ key as its
// dashed twin (X_Forwarded_For and X-Forwarded-For), so it is dropped or
// its request refused with a 400. Gunicorn's third value, "dangerous"
// (mapped anyway), is not offered.
const (
	HeaderMapDrop   = "drop"
	HeaderMapRefuse = "refuse"
)

// normalizeHeaderMap accepts drop and refuse, in any case.
//
//	"Drop" → "drop";  "refuse" → "refuse";  "dangerous" → error
func normalizeHeaderMap(v any) (any, error) {
	switch s := strings.ToLower(strings.TrimSpace(v.(string))); s {
	case HeaderMapDrop, HeaderMapRefuse:
		return s, nil
	case "dangerous":
		return nil, fmt.Errorf(`"dangerous" is not offered: a header name with an underscore maps to the same ` +
			`environ key as its dashed twin, which lets a client pass one header for the other; use drop or refuse`)
	}
	return nil, fmt.Errorf("%q: want drop or refuse", v)
}
