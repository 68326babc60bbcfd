package errorlog

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func openTestLog(t *testing.T, format, level string) (*Log, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "error.log")
	l, err := Open(Options{Path: path, Format: format, Level: level})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// A file is not a terminal, so the automatic format is JSON.
func TestErrorLogJSONToFile(t *testing.T) {
	l, path := openTestLog(t, "", "info")
	log := l.Logger("master")
	log.Info().Int("workers", 2).Msg("booting")
	lines := readLines(t, path)
	if len(lines) != 1 {
		t.Fatalf("got %d lines: %q", len(lines), lines)
	}
	var event map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &event); err != nil {
		t.Fatalf("not JSON: %q: %v", lines[0], err)
	}
	want := map[string]any{"level": "info", "role": "master", "pid": float64(os.Getpid()),
		"workers": float64(2), "message": "booting"}
	for k, v := range want {
		if event[k] != v {
			t.Errorf("%s = %#v, want %#v (event %q)", k, event[k], v, lines[0])
		}
	}
	if _, ok := event["time"]; !ok {
		t.Errorf("no time in %q", lines[0])
	}
}

func TestErrorLogConsoleFormat(t *testing.T) {
	l, path := openTestLog(t, "console", "info")
	log := l.Logger("worker")
	log.Warn().Int("worker", 3).Msg("slow request")
	line := readLines(t, path)[0]
	for _, want := range []string{"WRN", "slow request", "role=worker", "pid=" + itoa(os.Getpid()), "worker=3"} {
		if !strings.Contains(line, want) {
			t.Errorf("console line %q does not contain %q", line, want)
		}
	}
	if strings.Contains(line, "\x1b[") || strings.HasPrefix(line, "{") {
		t.Errorf("console line to a file has colours or is JSON: %q", line)
	}
	if i, j := strings.Index(line, "role="), strings.Index(line, "worker=3"); i > j {
		t.Errorf("role is not the first field: %q", line)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestErrorLogLevelFiltering(t *testing.T) {
	tests := []struct {
		level string
		want  []string // messages that pass, of debug..critical
	}{
		{level: "debug", want: []string{"debug", "info", "warn", "error", "critical"}},
		{level: "info", want: []string{"info", "warn", "error", "critical"}},
		{level: "warning", want: []string{"warn", "error", "critical"}},
		{level: "error", want: []string{"error", "critical"}},
		{level: "critical", want: []string{"critical"}},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			l, path := openTestLog(t, "json", tt.level)
			log := l.Logger("master")
			log.Debug().Msg("debug")
			log.Info().Msg("info")
			log.Warn().Msg("warn")
			log.Error().Msg("error")
			log.WithLevel(zerolog.FatalLevel).Msg("critical")
			var got []string
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for sc := bufio.NewScanner(f); sc.Scan(); {
				var event struct{ Message string }
				if err := json.Unmarshal(sc.Bytes(), &event); err != nil {
					t.Fatal(err)
				}
				got = append(got, event.Message)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("level %s logged %q, want %q", tt.level, got, tt.want)
			}
		})
	}
}

// TestErrorLogReopen is what logrotate does: move the file, send USR1.
func TestErrorLogReopen(t *testing.T) {
	l, path := openTestLog(t, "json", "info")
	log := l.Logger("master")
	log.Info().Msg("before")
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	log.Info().Msg("after move") // still the old file: it is open
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	log.Info().Msg("after reopen")

	old := readLines(t, rotated)
	cur := readLines(t, path)
	if len(old) != 2 || !strings.Contains(old[0], `"before"`) || !strings.Contains(old[1], `"after move"`) {
		t.Errorf("rotated file = %q", old)
	}
	if len(cur) != 1 || !strings.Contains(cur[0], `"after reopen"`) {
		t.Errorf("new file = %q", cur)
	}
}

func TestErrorLogAppendsAndCloses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "error.log")
	if err := os.WriteFile(path, []byte("existing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Open(Options{Path: path, Format: "json", Level: "info"})
	if err != nil {
		t.Fatal(err)
	}
	log := l.Logger("worker")
	log.Info().Msg("appended")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	log.Info().Msg("dropped")
	if err := l.Reopen(); err == nil {
		t.Error("Reopen after Close succeeded")
	}
	lines := readLines(t, path)
	if len(lines) != 2 || lines[0] != "existing" || !strings.Contains(lines[1], `"appended"`) {
		t.Errorf("log file = %q", lines)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{name: "bad level", o: Options{Path: "-", Level: "loud"},
			want: `errorlog: log level "loud": want one of debug, info, warning, error, critical`},
		{name: "bad format", o: Options{Path: "-", Level: "info", Format: "xml"},
			want: `errorlog: log format "xml": want console, json or gunicorn`},
		{name: "unwritable path", o: Options{Path: "/nonexistent-dir/error.log", Level: "info"},
			want: "errorlog: open /nonexistent-dir/error.log: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.o)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Open error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestIsTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if IsTerminal(w) {
		t.Error("a pipe is a terminal")
	}
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	if !IsTerminal(ptmx) {
		t.Error("a pseudo-terminal is not a terminal")
	}
}

// With --capture-output fd 2 feeds the log, so a stderr log writes to
// the duplicate it is given; a file log ignores it.
func TestErrorLogRedirectStderr(t *testing.T) {
	dup := filepath.Join(t.TempDir(), "orig-stderr")
	f, err := os.Create(dup)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := Open(Options{Path: "-", Format: "json", Level: "info"})
	if err != nil {
		t.Fatal(err)
	}
	l.RedirectStderr(f)
	log := l.Logger("worker")
	log.Info().Msg("to the duplicate")
	if lines := readLines(t, dup); len(lines) != 1 || !strings.Contains(lines[0], `"message":"to the duplicate"`) {
		t.Fatalf("duplicate holds %q", lines)
	}

	fileLog, path := openTestLog(t, "json", "info")
	fileLog.RedirectStderr(f)
	fl := fileLog.Logger("worker")
	fl.Info().Msg("to the file")
	if lines := readLines(t, path); len(lines) != 1 || !strings.Contains(lines[0], "to the file") {
		t.Fatalf("log file holds %q", lines)
	}
}

// TestErrorLogGunicornFormat: --log-format gunicorn writes Gunicorn's
// error log lines, error_fmt "%(asctime)s [%(process)d] [%(levelname)s]
// %(message)s" with datefmt "[%Y-%m-%d %H:%M:%S %z]", then the event's
// fields; a multi-line message (a traceback) stays as it is.
func TestErrorLogGunicornFormat(t *testing.T) {
	l, path := openTestLog(t, "gunicorn", "debug")
	log := l.Logger("worker").With().Int("worker", 3).Logger()
	before := time.Now().Add(-time.Second)
	log.Info().Str("app", "hello:app").Msg("ready")
	log.Warn().Msg("careful")
	log.WithLevel(zerolog.FatalLevel).Msg("stopping")
	log.Error().Msg("Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: boom")
	log.Debug().Msg("detail")
	pid := strconv.Itoa(os.Getpid())
	want := []string{
		` [` + pid + `] [INFO] ready worker=3 app=hello:app`,
		` [` + pid + `] [WARNING] careful worker=3`,
		` [` + pid + `] [CRITICAL] stopping worker=3`,
		` [` + pid + `] [ERROR] Traceback (most recent call last):`,
		`  File "x.py", line 1`,
		`ValueError: boom worker=3`,
		` [` + pid + `] [DEBUG] detail worker=3`,
	}
	lines := readLines(t, path)
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, line := range lines {
		if !strings.HasPrefix(want[i], " [") {
			if line != want[i] {
				t.Errorf("line %d = %q, want %q", i, line, want[i])
			}
			continue
		}
		stamp, rest, ok := strings.Cut(line, "]")
		at, err := time.Parse("[2006-01-02 15:04:05 -0700", stamp)
		if !ok || err != nil || at.Before(before) || at.After(time.Now().Add(time.Second)) || rest != want[i] {
			t.Errorf("line %d = %q; want a [%%Y-%%m-%%d %%H:%%M:%%S %%z] time of now, then %q (%v)", i, line, want[i], err)
		}
	}
}

// TestErrorLogGunicornMessages: with --log-format gunicorn, the events
// Gunicorn users alert and wait on read in Gunicorn's words and levels.
func TestErrorLogGunicornMessages(t *testing.T) {
	l, path := openTestLog(t, "gunicorn", "info")
	master, worker := l.Logger("master"), l.Logger("worker").With().Int("worker", 1).Logger()
	pid := strconv.Itoa(os.Getpid())
	master.Info().Str("address", "127.0.0.1:8000").Msg("listening")
	master.Info().Str("address", "unix:/run/app.sock").Msg("listening")
	worker.Info().Str("app", "a:b").Msg("booted")
	master.WithLevel(zerolog.FatalLevel).Int("worker", 1).Int("worker_pid", 77).Str("method", "GET").
		Msg("worker timeout: a request outlived --timeout; killing the worker after it logs its Python stacks")
	master.WithLevel(zerolog.FatalLevel).Int("worker", 1).Int("worker_pid", 77).Msg("worker timeout: no heartbeat; killing the worker")
	master.Error().Str("signal", syscall.SIGKILL.String()).Int("worker", 1).Int("worker_pid", 77).Msg("worker exited")
	master.Info().Str("signal", syscall.SIGKILL.String()).Str("killed_by", "master").Int("worker", 1).Int("worker_pid", 77).Msg("worker exited")
	master.Warn().Str("signal", syscall.SIGSEGV.String()).Int("worker", 1).Int("worker_pid", 77).Msg("worker exited")
	master.Info().Str("signal", syscall.SIGTERM.String()).Int("worker", 1).Int("worker_pid", 77).Msg("worker exited")
	master.Error().Int("exit_code", 3).Int("worker", 1).Int("worker_pid", 77).Msg("worker exited")
	master.Info().Int("exit_code", 0).Int("worker", 1).Int("worker_pid", 77).Msg("worker exited")
	worker.Info().Msg("graceful stop")
	master.Info().Int("workers", 1).Msg("graceful stop")
	master.Info().Str("signal", "hup").Msg("handling signal")
	master.Info().Int("exit_code", 0).Msg("stopped")
	want := []string{
		"[INFO] Listening at: http://127.0.0.1:8000 (" + pid + ")",
		"[INFO] Listening at: unix:/run/app.sock (" + pid + ")",
		"[INFO] Booting worker with pid: " + pid + " worker=1 app=a:b",
		"[CRITICAL] WORKER TIMEOUT (pid:77) worker=1 method=GET",
		"[CRITICAL] WORKER TIMEOUT (pid:77) worker=1",
		"[ERROR] Worker (pid:77) was sent SIGKILL! Perhaps out of memory? worker=1",
		"[INFO] Worker (pid:77) was sent SIGKILL! worker=1 killed_by=master",
		"[WARNING] Worker (pid:77) was sent SIGSEGV! worker=1",
		"[INFO] Worker (pid:77) was sent SIGTERM! worker=1",
		"[ERROR] Worker (pid:77) exited with code 3. worker=1",
		"[INFO] worker exited worker=1 exit_code=0 worker_pid=77",
		"[INFO] Worker exiting (pid: " + pid + ") worker=1",
		"[INFO] graceful stop workers=1",
		"[INFO] Handling signal: hup",
		"[INFO] Shutting down: Master exit_code=0",
	}
	lines := readLines(t, path)
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, line := range lines {
		if _, rest, _ := strings.Cut(line, "] ["+pid+"] "); rest != want[i] {
			t.Errorf("line %d = %q, want it to end %q", i, line, want[i])
		}
	}
}

// TestCapturedOutputIsTheBareLine: a line of the app's captured output
// (no level, a stream), or of its wsgi.errors (no level), is written bare
// in the text formats, as Gunicorn writes them, whatever the
// --log-level; JSON keeps the event.
func TestCapturedOutputIsTheBareLine(t *testing.T) {
	for _, format := range []string{"gunicorn", "json"} {
		l, path := openTestLog(t, format, "warning")
		worker := l.Logger("worker").With().Int("worker", 1).Logger()
		worker.WithLevel(zerolog.NoLevel).Str(CapturedStream, "stderr").Msg(`INFO:app:started {"stream":"x"}`)
		worker.Info().Msg("filtered out")
		worker.Warn().Str(CapturedStream, "stdout").Msg("a warning naming a stream")
		worker.WithLevel(zerolog.NoLevel).Str("source", "wsgi.errors").Msg(`app says "level": 1`)
		lines := readLines(t, path)
		if len(lines) != 3 {
			t.Fatalf("%s: %d lines; want the captured line, the warning and the wsgi.errors line:\n%s",
				format, len(lines), strings.Join(lines, "\n"))
		}
		switch format {
		case "gunicorn":
			if lines[0] != `INFO:app:started {"stream":"x"}` || !strings.Contains(lines[1], "[WARNING] a warning naming a stream worker=1") ||
				lines[2] != `app says "level": 1` {
				t.Errorf("gunicorn: %q", lines)
			}
		case "json":
			if !strings.Contains(lines[0], `"stream":"stderr"`) || strings.Contains(lines[0], `"level"`) {
				t.Errorf("json: %q; want the event with its stream and no level", lines[0])
			}
		}
	}
}

// TestEventsTheFileRefusesGoToStderr: an error log file that cannot take
// an event (a full disk: /dev/full) does not lose it: the event goes to
// stderr after one line saying why, once per run of failures.
func TestEventsTheFileRefusesGoToStderr(t *testing.T) {
	stderr, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = stderr
	t.Cleanup(func() { os.Stderr = saved })
	l, err := Open(Options{Path: "/dev/full", Format: "json", Level: "info"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	log := l.Logger("master")
	log.Error().Msg("cannot write the pidfile")
	log.Info().Msg("stopping")
	data, _ := os.ReadFile(stderr.Name())
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "gowsgi: cannot write the error log /dev/full (") ||
		!strings.Contains(lines[1], `"message":"cannot write the pidfile"`) || !strings.Contains(lines[2], `"message":"stopping"`) {
		t.Fatalf("stderr:\n%s\nwant the reason once, then both events", data)
	}
}
