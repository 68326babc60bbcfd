package integration

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Gunicorn's logger_class (docs/gunicorn.md, "A logger class"): a
// subclass of gunicorn.glogging.Logger, defined in the config file or
// named as module.Class, is made in each worker and writes the access
// log. Each case runs the same config with Debian's Gunicorn 20.1 and
// with gowsgi, and compares the access lines. gowsgi's workers here run
// a Python without Gunicorn, so the class subclasses gowsgi's stand-in.

// loggerClassRequests are sent to both servers; each line the classes
// write starts with "ACC " and names the path, so the last request's
// line says that the others are in.
var loggerClassRequests = []struct{ path, agent string }{
	{"/hello?x=1", `ua"1`}, {"/health", "probe"}, {"/empty", "test"},
}

// accessLinesOf returns the lines of out that start with "ACC ".
func accessLinesOf(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "ACC ") {
			lines = append(lines, l)
		}
	}
	return lines
}

// sendLoggerClassRequests sends the requests to base and waits, with
// wait, until output() has the last one's line.
func sendLoggerClassRequests(t *testing.T, base string, output func() string, wait func(func() bool)) []string {
	t.Helper()
	for _, r := range loggerClassRequests {
		req, _ := http.NewRequest("GET", base+r.path, nil)
		req.Header.Set("User-Agent", r.agent)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", r.path, err)
		}
		resp.Body.Close()
	}
	wait(func() bool {
		lines := accessLinesOf(output())
		return len(lines) > 0 && strings.Contains(strings.ToLower(lines[len(lines)-1]), "/empty")
	})
	return accessLinesOf(output())
}

func TestLoggerClassAsGunicornRunsIt(t *testing.T) {
	const format = `access_log_format = 'ACC %(r)s %(s)s %(b)s "%(a)s" %({route}c)s %(n)s'` + "\n"
	for _, tc := range []struct {
		name, conf string
		args       []string // gowsgi's, instead of the file's logger_class
		want       int      // lines
	}{
		{name: "a health-check filter the config file defines", want: 2, conf: format + `
import logging
from gunicorn import glogging

class HealthCheckFilter(logging.Filter):
    def filter(self, record):
        return "/health" not in record.getMessage()

class CustomGunicornLogger(glogging.Logger):
    def setup(self, cfg):
        super().setup(cfg)
        logging.getLogger("gunicorn.access").addFilter(HealthCheckFilter())

logger_class = CustomGunicornLogger
accesslog = "-"

def post_fork(server, worker):
    worker.log.info("post_fork ran beside the logger class")
`},
		{name: "a filter from a module, as --logger-class", want: 2, conf: format + `accesslog = "-"
logger_class = "loggerclass.HealthFilteringLogger"
`, args: []string{"--logger-class", "loggerclass.HealthFilteringLogger"}},
		{name: "atoms of its own", want: 3, conf: format + `accesslog = "-"
from loggerclass import AtomsLogger
logger_class = AtomsLogger
`},
		{name: "access() of its own", want: 3, conf: `accesslog = "-"
logger_class = "loggerclass.AccessLogger"
`},
		{name: "access() of its own, without an access log", want: 3, conf: `logconfig_dict = {
    "version": 1,
    "root": {"level": "INFO", "handlers": []},
    "formatters": {"plain": {"format": "%(message)s"}},
    "handlers": {"out": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stdout"}},
    "loggers": {"gunicorn.access": {"level": "INFO", "handlers": ["out"], "propagate": False}},
}
logger_class = "loggerclass.AccessLogger"
`},
		{name: "its own access_fmt", want: 3, conf: format + `accesslog = "-"
logger_class = "loggerclass.PrefixLogger"
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := filepath.Join(t.TempDir(), "gunicorn.conf.py")
			if err := os.WriteFile(conf, []byte(tc.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			base, stdout := startGunicorn(t, conf, "accessapp:app")
			want := sendLoggerClassRequests(t, base, stdout.String,
				func(cond func() bool) { eventually(t, "Gunicorn's access lines", cond) })
			if len(want) != tc.want {
				t.Fatalf("Gunicorn wrote %d lines; the test expects %d:\n%s", len(want), tc.want, strings.Join(want, "\n"))
			}
			// The config file imports from the apps, as under Gunicorn.
			s := start(t, serverOpts{args: append([]string{"-c", conf}, append(tc.args, "accessapp:app")...),
				env: []string{"PYTHONPATH=" + appsDir}})
			got := sendLoggerClassRequests(t, "http://"+s.address(), s.output, s.waitFor)
			compareLines(t, "access lines", got, want)
			if strings.Contains(tc.conf, "post_fork") && len(s.linesWhere(func(m string) bool {
				return m == "post_fork ran beside the logger class"
			})) != 1 {
				t.Errorf("the post_fork hook beside the logger class did not log once")
			}
		})
	}
}

// Where Gunicorn is installed (Debian's Python, bin/gowsgi-debian), the
// class still subclasses gowsgi's gunicorn.glogging, whose logs are
// gowsgi's.
func TestLoggerClassWhereGunicornIsInstalled(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--logger-class", "loggerclass.HealthFilteringLogger",
		"--access-logfile", "-", "--access-logformat", "ACC %(r)s %(s)s", "accessapp:app"},
		env: []string{"PYTHONPATH=" + appsDir}, binary: debianBinary(t)})
	got := sendLoggerClassRequests(t, "http://"+s.address(), s.output, s.waitFor)
	compareLines(t, "access lines", got, []string{"ACC GET /hello?x=1 HTTP/1.1 200", "ACC GET /empty HTTP/1.1 204"})
	if len(s.linesWhere(func(m string) bool { return m == "the base class is gowsgi's: True" })) != 1 {
		t.Errorf("the class's base is not gowsgi's gunicorn.glogging.Logger")
	}
}

// A class whose setup() raises stops the worker's boot with its
// traceback: every worker fails, and the master exits 3.
func TestLoggerClassThatRaises(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--logger-class", "loggerclass.BrokenLogger", "accessapp:app"},
		ready: -1})
	code := s.wait(30 * time.Second)
	out := s.output()
	if code != 3 || !strings.Contains(out, "RuntimeError: the logging backend is unreachable") ||
		!strings.Contains(out, "loggerclass.py") {
		t.Fatalf("exit code %d; want 3, with the class's traceback in the log", code)
	}
}
