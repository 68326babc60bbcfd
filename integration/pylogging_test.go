package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Python's logging as Gunicorn sets it up, with testdata/apps/pylog.py:
// gunicorn.error writes into the error log at --log-level (Flask's
// recipe gives an app's logger its handlers), and logconfig_dict,
// logconfig_json and logconfig configure the app's own loggers.

// pyLogLines returns the error-log lines a Python logger wrote.
func pyLogLines(s *server, logger string) []logLine {
	var out []logLine
	for _, l := range s.jsonLinesWith("logger") {
		if l.str("logger") == logger {
			out = append(out, l)
		}
	}
	return out
}

// waitForPyLog waits for the line logger wrote with message, and returns it.
func waitForPyLog(s *server, logger, message string) logLine {
	s.t.Helper()
	var found logLine
	s.waitFor(func() bool {
		for _, l := range pyLogLines(s, logger) {
			if l.str("message") == message {
				found = l
				return true
			}
		}
		return false
	})
	return found
}

func TestGunicornErrorLoggerWritesToTheErrorLog(t *testing.T) {
	for _, preload := range []bool{false, true} {
		t.Run(fmt.Sprintf("preload=%v", preload), func(t *testing.T) {
			args := []string{"pylog:app"}
			if preload {
				args = append(args, "--preload")
			}
			s := start(t, serverOpts{args: args})
			imported := waitForPyLog(s, "pylog.app", "imported")
			// With --preload the zygote imported the app and the master
			// wrote its record; otherwise the worker did.
			if role := imported.str("role"); preload && role != "master" || !preload && role != "worker" {
				t.Errorf("the import's record was written by the %s", role)
			}
			if code, _ := s.get("/x"); code != 200 {
				t.Fatalf("GET /x: %d", code)
			}
			if l := waitForPyLog(s, "pylog.app", "info /x"); l.str("level") != "info" || l.str("role") != "worker" {
				t.Errorf("app.logger.info: %v", l)
			}
			if code, _ := s.get("/raise"); code != 200 {
				t.Fatalf("GET /raise: %d", code)
			}
			var failed []logLine
			s.waitFor(func() bool {
				failed = s.linesWhere(func(m string) bool { return strings.HasPrefix(m, "failed /raise\nTraceback") })
				return len(failed) == 1
			})
			if l := failed[0]; l.str("level") != "error" || !strings.HasSuffix(l.str("message"), "ValueError: boom") {
				t.Errorf("app.logger.exception: %v", l)
			}
			// The records /x logged below its loggers' levels (debug,
			// and info on the module logger, which only the root
			// logger's last-resort handler would show) were written, if
			// at all, before /raise's record, which is in: they are not.
			out := s.output()
			for _, absent := range []string{"debug /x", "module /x"} {
				if strings.Contains(out, absent) {
					t.Errorf("%q logged; want it below the loggers' levels", absent)
				}
			}
		})
	}
}

// TestMoreLoggersReachTheErrorLog: --log-level applies to gunicorn.error
// (and so to Flask's recipe); with -k asgi, uvicorn.error writes there
// too, as under Uvicorn's Gunicorn worker.
func TestMoreLoggersReachTheErrorLog(t *testing.T) {
	for _, tc := range []struct {
		args                         []string
		path, logger, message, level string
	}{
		{[]string{"pylog:app", "--log-level", "debug"}, "/x", "pylog.app", "debug /x", "debug"},
		{[]string{"-k", "asgi", "pylog:asgi"}, "/u", "uvicorn.error", "uvicorn /u", "info"},
	} {
		s := start(t, serverOpts{args: tc.args})
		if code, _ := s.get(tc.path); code != 200 {
			t.Fatalf("%v: GET %s: %d", tc.args, tc.path, code)
		}
		if l := waitForPyLog(s, tc.logger, tc.message); l.str("level") != tc.level {
			t.Errorf("%v: %s's record %v, want level %s", tc.args, tc.logger, l, tc.level)
		}
	}
}

// startAndGetX starts gowsgi with args (and --preload), and makes one
// request for /x.
func startAndGetX(t *testing.T, preload bool, args ...string) *server {
	t.Helper()
	if preload {
		args = append(args, "--preload")
	}
	s := start(t, serverOpts{args: args})
	if code, _ := s.get("/x"); code != 200 {
		t.Fatalf("GET /x: %d", code)
	}
	return s
}

// logConfigDict is a logconfig_dict that writes every record at INFO and
// above to the file logPath, one line each.
func logConfigDict(logPath string) string {
	return fmt.Sprintf(`{
    "formatters": {"plain": {"format": "PYLOG %%(name)s %%(levelname)s %%(message)s"}},
    "handlers": {"file": {"class": "logging.FileHandler", "formatter": "plain", "filename": %q}},
    "loggers": {},
    "root": {"level": "INFO", "handlers": ["file"]},
}`, logPath)
}

// TestLogConfigDictConfiguresTheApp: a gunicorn.conf.py's logconfig_dict
// sends the module logger, which Gunicorn leaves unconfigured, to a file;
// USR1 reopens the file after logrotate moved it.
func TestLogConfigDictConfiguresTheApp(t *testing.T) {
	for _, preload := range []bool{false, true} {
		t.Run(fmt.Sprintf("preload=%v", preload), func(t *testing.T) {
			dir := t.TempDir()
			logPath := filepath.Join(dir, "app.log")
			conf := filepath.Join(dir, "gunicorn.conf.py")
			if err := os.WriteFile(conf, []byte("logconfig_dict = "+logConfigDict(logPath)+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			s := startAndGetX(t, preload, "-c", conf, "pylog:app")
			lines := waitForFileLines(t, s, logPath, 3)
			want := []string{"PYLOG pylog.app INFO imported", "PYLOG pylog.app INFO info /x", "PYLOG pylog.module INFO module /x"}
			if strings.Join(lines, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s:\n%s\nwant\n%s", logPath, strings.Join(lines, "\n"), strings.Join(want, "\n"))
			}

			if err := os.Rename(logPath, logPath+".1"); err != nil {
				t.Fatal(err)
			}
			reopened := len(s.find("reopened the log files"))
			s.signal(syscall.SIGUSR1)
			s.waitFor(func() bool { return len(s.find("reopened the log files")) > reopened })
			if code, _ := s.get("/y"); code != 200 {
				t.Fatalf("GET /y: %d", code)
			}
			lines = waitForFileLines(t, s, logPath, 2)
			if want := "PYLOG pylog.app INFO info /y"; lines[0] != want {
				t.Errorf("after USR1, %s starts %q, want %q", logPath, lines[0], want)
			}
		})
	}
}

// TestLogConfigDictWithPythonObjects: a logconfig_dict holding objects
// (sys.stdout as a handler's stream, a handler class, a formatter factory)
// works as under Gunicorn, whose master passes the dict to dictConfig as
// it is: gowsgi's reader names them as dictConfig resolves them in the
// worker ("ext://sys.stdout", "logging.StreamHandler").
func TestLogConfigDictWithPythonObjects(t *testing.T) {
	dir := t.TempDir()
	conf := writeConf(t, dir, "gunicorn.conf.py", `import logging
import sys

logconfig_dict = {
    "formatters": {"plain": {"()": logging.Formatter, "fmt": "PYLOG %(name)s %(levelname)s %(message)s"}},
    "handlers": {"out": {"class": logging.StreamHandler, "formatter": "plain", "stream": sys.stdout}},
    "loggers": {},
    "root": {"level": "INFO", "handlers": ["out"]},
}
`)
	s := startAndGetX(t, false, "-c", conf, "pylog:app")
	s.waitFor(func() bool { return strings.Contains(s.output(), "PYLOG pylog.module INFO module /x\n") })
}

// TestLogConfigDictWithTheFilesOwnObjects: a logconfig_dict may hold
// objects only the config file has (a filter class it defines, a lambda
// factory), as under Gunicorn, whose master hands the dict to dictConfig
// as it is: each worker and the hook host take the dict from the file
// they execute again. The hooks' server.log and worker.log write through
// gunicorn.error, as Gunicorn's Logger does, so the configuration
// applies to their lines as well.
func TestLogConfigDictWithTheFilesOwnObjects(t *testing.T) {
	for _, preload := range []bool{false, true} {
		t.Run(fmt.Sprintf("preload=%v", preload), func(t *testing.T) {
			conf := writeConf(t, t.TempDir(), "gunicorn.conf.py", `import logging
import sys


class BelowWarning(logging.Filter):
    def filter(self, record):
        return record.levelno < logging.WARNING


class Tagged(logging.Filter):
    def __init__(self, tag):
        super().__init__()
        self.tag = tag

    def filter(self, record):
        record.tag = self.tag
        return True


logconfig_dict = {
    "version": 1,
    "filters": {"below": {"()": BelowWarning}, "tag": {"()": lambda: Tagged("T1")}},
    "formatters": {"plain": {"format": "CFG %(tag)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"out": {"class": "logging.StreamHandler", "stream": sys.stdout,
                         "filters": ["below", "tag"], "formatter": "plain"}},
    "loggers": {"gunicorn.error": {"handlers": ["out"], "level": "INFO", "propagate": False}},
    "root": {"level": "WARNING", "handlers": []},
}


def when_ready(server):
    server.log.warning("filtered out")
    server.log.info("when_ready %s", "hook")


def post_fork(server, worker):
    worker.log.warning("filtered out")
    worker.log.info("post_fork hook")
`)
			s := startAndGetX(t, preload, "-c", conf, "pylog:app")
			for _, want := range []string{"CFG T1 INFO gunicorn.error when_ready hook\n",
				"CFG T1 INFO gunicorn.error post_fork hook\n", "CFG T1 INFO pylog.app info /x\n"} {
				s.waitFor(func() bool { return strings.Contains(s.output(), want) })
			}
			if out := s.output(); strings.Contains(out, "filtered out") {
				t.Errorf("a warning passed the file's filter:\n%s", out)
			}
		})
	}
}

// TestLogConfigFiles: the same configuration from each kind of file.
func TestLogConfigFiles(t *testing.T) {
	tests := []struct {
		name, file, flag, text string
	}{
		{"ini", "logging.ini", "--log-config", `[loggers]
keys=root

[handlers]
keys=file

[formatters]
keys=plain

[logger_root]
level=INFO
handlers=file

[handler_file]
class=FileHandler
formatter=plain
args=(%q,)

[formatter_plain]
format=PYLOG %%(name)s %%(levelname)s %%(message)s
`},
		{"JSON file", "logging.json", "--log-config-json", `{"formatters": {"plain": {"format": "PYLOG %%(name)s %%(levelname)s %%(message)s"}},
 "handlers": {"file": {"class": "logging.FileHandler", "formatter": "plain", "filename": %q}},
 "loggers": {}, "root": {"level": "INFO", "handlers": ["file"]}}`},
		{"Uvicorn's JSON --log-config", "log.json", "--log-config", `{"version": 1, "disable_existing_loggers": false,
 "formatters": {"plain": {"format": "PYLOG %%(name)s %%(levelname)s %%(message)s"}},
 "handlers": {"file": {"class": "logging.FileHandler", "formatter": "plain", "filename": %q}},
 "root": {"level": "INFO", "handlers": ["file"]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			logPath := filepath.Join(dir, "app.log")
			conf := filepath.Join(dir, tt.file)
			if err := os.WriteFile(conf, []byte(fmt.Sprintf(tt.text, logPath)), 0o644); err != nil {
				t.Fatal(err)
			}
			s := start(t, serverOpts{args: []string{tt.flag, conf, "pylog:app"}})
			if code, _ := s.get("/x"); code != 200 {
				t.Fatalf("GET /x: %d", code)
			}
			lines := waitForFileLines(t, s, logPath, 3)
			if got := lines[len(lines)-1]; got != "PYLOG pylog.module INFO module /x" {
				t.Errorf("%s ends %q; want the module logger's record", logPath, got)
			}
		})
	}
}

// TestBadLogConfigStopsTheServer: a configuration dictConfig refuses
// stops every worker at boot with the reason; a missing file is refused
// before anything starts.
func TestBadLogConfigStopsTheServer(t *testing.T) {
	s := start(t, serverOpts{ready: -1, args: []string{"pylog:app", "--log-config-dict",
		`{"version": 1, "handlers": {"h": {"class": "no.such.Handler"}}, "root": {"handlers": ["h"]}}`}})
	if code := s.wait(20 * time.Second); code != 3 {
		t.Errorf("exit code %d, want 3 (no worker could boot)", code)
	}
	if lines := s.linesWhere(func(m string) bool {
		return strings.HasPrefix(m, "cannot set up Python's logging:\n") && strings.Contains(m, "Unable to configure handler 'h'")
	}); len(lines) == 0 {
		t.Errorf("no log line says why the workers could not boot")
	}

	code, _, stderr := runOnce(t, nil, "--chdir", appsDir, "--log-config", "no-such.ini", "pylog:app")
	if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, `--log-config: log config "no-such.ini"`) {
		t.Errorf("missing --log-config file: exit %d, stderr %q; want 2 and one line naming it", code, stderr)
	}
}

// TestMasterHooksLogThroughPythonLogging: the master's hooks run in the
// hook host, whose Python logging is set up as a worker's: gunicorn.error
// writes into the error log, and logconfig_dict configures the rest; USR1
// reopens its files too.
func TestMasterHooksLogThroughPythonLogging(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	conf := filepath.Join(dir, "gunicorn.conf.py")
	hooks := `
import logging

def when_ready(server):
    logging.getLogger("gunicorn.error").info("ready, says the hook")
    logging.getLogger("myhooks").info("configured by logconfig_dict")

def nworkers_changed(server, new_value, old_value):
    logging.getLogger("myhooks").info("workers %s", new_value)
`
	if err := os.WriteFile(conf, []byte("logconfig_dict = "+logConfigDict(logPath)+"\n"+hooks), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, serverOpts{args: []string{"-c", conf, "pylog:app"}})
	if l := waitForPyLog(s, "gunicorn.error", "ready, says the hook"); l.str("role") != "master" || l.str("level") != "info" {
		t.Errorf("the hook's record: %v", l)
	}
	s.waitFor(func() bool {
		data, _ := os.ReadFile(logPath)
		return strings.Contains(string(data), "PYLOG myhooks INFO configured by logconfig_dict\n")
	})

	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGUSR1)
	s.waitFor(func() bool { return len(s.find("log files reopened")) == 1 }) // the host's files too, by then
	s.signal(syscall.SIGTTIN)
	if lines := waitForFileLines(t, s, logPath, 1); lines[0] != "PYLOG myhooks INFO workers 2" {
		t.Errorf("after USR1, %s starts %q, want the hook's next record", logPath, lines[0])
	}
}

// TestLogConfigNamesTheAppsOwnClasses: a configuration may name a class
// from the app's directory, which is on sys.path before logging is set
// up, as under Gunicorn.
func TestLogConfigNamesTheAppsOwnClasses(t *testing.T) {
	for _, preload := range []bool{false, true} {
		t.Run(fmt.Sprintf("preload=%v", preload), func(t *testing.T) {
			logPath := filepath.Join(t.TempDir(), "app.log")
			dict := fmt.Sprintf(`{"version": 1, "formatters": {"f": {"()": "pylogfmt.Shouting", "fmt": "%%(message)s"}},
 "handlers": {"file": {"class": "logging.FileHandler", "formatter": "f", "filename": %q}},
 "loggers": {}, "root": {"level": "INFO", "handlers": ["file"]}}`, logPath)
			s := startAndGetX(t, preload, "--log-config-dict", dict, "pylog:app")
			lines := waitForFileLines(t, s, logPath, 3)
			if got := lines[len(lines)-1]; got != "SHOUT MODULE /X" {
				t.Errorf("%s ends %q, want the app's formatter's line", logPath, got)
			}
		})
	}
}
