// Package errorlog is the error log shared by the master and its
// workers (--error-logfile, --log-level, --log-format): each process
// opens it and logs through zerolog child loggers carrying role and pid.
//
//	Open(Options{Path: "-", Level: "info"}) → JSON lines on stderr, or console lines on a terminal
//	Open(Options{Format: "gunicorn"}) → [2026-12-07 03:23:25 +0000] [6503] [INFO] Listening at: http://127.0.0.1:8000 (6503)
//
// Gunicorn's level names map to zerolog's, and a log file is reopened
// for rotation on SIGUSR1. It imports nothing of gowsgi: config checks
// the level names with it, and every process logs through it.
package errorlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// Log is the error log shared by the master and its workers: each
// process opens it with Open and logs through Logger. Every
// event is one write(2) in O_APPEND mode, so lines from several
// processes do not interleave.
//
// Gunicorn's level names map to zerolog levels: debug, info, warning
// (warn), error, critical (fatal). Log a critical event with
// logger.WithLevel(zerolog.FatalLevel), which unlike logger.Fatal() does
// not exit.
type Log struct {
	path     string        // file appended to; "" for stderr. Immutable.
	console  bool          // human-readable lines instead of JSON. Immutable.
	gunicorn bool          // console lines in Gunicorn's layout. Immutable.
	color    bool          // ANSI colours (console on a terminal). Immutable.
	level    zerolog.Level // Immutable.
	// hook sees every event of every Logger (--statsd-host counts
	// them); set by SetHook before the first Logger call, nil for none.
	hook zerolog.Hook
	// syslog also gets every event (--log-syslog); nil for none. Immutable.
	syslog *SyslogSender

	mu     sync.Mutex
	out    io.Writer // guarded by mu; the file or os.Stderr
	file   *os.File  // guarded by mu; nil for stderr
	closed bool      // guarded by mu
	// failing: the file refused the last write (guarded by mu), whose
	// events then go to stderr (logWriter).
	failing bool
}

// logWriter passes each event to the Log's current output, so
// loggers keep working across Reopen.
type logWriter struct{ l *Log }

var _ io.Writer = logWriter{}

func (w logWriter) Write(p []byte) (int, error) {
	l := w.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, os.ErrClosed
	}
	n, err := l.out.Write(p)
	if l.file == nil {
		return n, err
	}
	// A file that cannot take the event (its disk full, say) must not
	// lose it: it is often the reason for what happens next, such as
	// the server's own stop. It goes to stderr, after one line saying
	// why, until the file takes events again.
	switch {
	case err == nil:
		l.failing = false
	case !l.failing:
		l.failing = true
		fmt.Fprintf(os.Stderr, "gowsgi: cannot write the error log %s (%v); its events go to stderr until it can\n", l.path, err)
		fallthrough
	default:
		if _, serr := os.Stderr.Write(p); serr == nil {
			return len(p), nil
		}
	}
	return n, err
}

// Options are the settings a Log is opened with.
type Options struct {
	// Path is the file appended to (--error-logfile); "-" or "" is stderr.
	Path string
	// Level is one of Levels (--log-level).
	Level string
	// Format is "console", "json", "gunicorn" (console lines in
	// Gunicorn's layout) or "" (--log-format; "": console on a terminal,
	// JSON otherwise).
	Format string
	// Syslog, when not nil, sends every event to syslog as well.
	Syslog *SyslogOptions
}

// Open opens the error log o describes: a file is opened for appending
// (created 0644).
func Open(o Options) (*Log, error) {
	level, ok := zerologLevels[o.Level]
	if !ok {
		return nil, fmt.Errorf("errorlog: log level %q: want one of %s", o.Level, strings.Join(Levels, ", "))
	}
	l := &Log{level: level, out: os.Stderr}
	if o.Path != "" && o.Path != "-" {
		l.path = o.Path
		f, err := openAppend(l.path)
		if err != nil {
			return nil, err
		}
		l.file, l.out = f, f
	}
	tty := l.file == nil && IsTerminal(os.Stderr)
	switch o.Format {
	case "console":
		l.console = true
	case "gunicorn":
		l.console, l.gunicorn = true, true
	case "json":
	case "":
		l.console = tty
	default:
		l.Close()
		return nil, fmt.Errorf("errorlog: log format %q: want console, json or gunicorn", o.Format)
	}
	l.color = l.console && tty && !l.gunicorn
	if o.Syslog != nil {
		s, err := DialSyslog(*o.Syslog, "error")
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("errorlog: %w", err)
		}
		l.syslog = s
	}
	return l, nil
}

func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("errorlog: %w", err)
	}
	return f, nil
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Logger returns a logger whose events carry role (such as "master" or
// "worker") and the calling process's pid.
func (l *Log) Logger(role string) zerolog.Logger {
	var w io.Writer = logWriter{l}
	switch {
	case l.gunicorn:
		w = bareCaptured{gunicornWriter(w), w}
	case l.console:
		w = bareCaptured{zerolog.ConsoleWriter{
			Out:         w,
			NoColor:     !l.color,
			TimeFormat:  "2006-01-02 15:04:05",
			FieldsOrder: []string{"role", "pid", "worker"},
		}, w}
	}
	if l.syslog != nil {
		w = zerolog.MultiLevelWriter(w, newSyslogEvents(l.syslog))
	}
	log := zerolog.New(w).Level(l.level).With().Timestamp().
		Str("role", role).Int("pid", os.Getpid()).Logger()
	if l.hook != nil {
		log = log.Hook(l.hook)
	}
	return log
}

// SetHook makes every Logger made after it run h on each event it
// writes. Call it before the first Logger.
func (l *Log) SetHook(h zerolog.Hook) { l.hook = h }

// Reopen reopens the log file by its path, for log rotation (SIGUSR1):
// after logrotate moved the file, events go to a new file at the path.
// It does nothing for stderr.
func (l *Log) Reopen() error {
	if l.path == "" {
		return nil
	}
	f, err := openAppend(l.path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		f.Close()
		return os.ErrClosed
	}
	old := l.file
	l.file, l.out = f, f
	return old.Close()
}

// RedirectStderr makes a log that writes to stderr write to f instead.
// With --capture-output the worker points fd 2 at a pipe that feeds the
// app's output into this log; the log itself must then write to a
// duplicate of the original stderr, or each event would loop back. It
// does nothing for a log file.
func (l *Log) RedirectStderr(f *os.File) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.path == "" {
		l.out = f
	}
}

// Close closes the log file; later events are dropped. It is idempotent
// and leaves stderr open.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.syslog != nil {
		l.syslog.Close()
	}
	if l.file == nil {
		return nil
	}
	return l.file.Close()
}

// CapturedStream is the field naming the stream ("stdout", "stderr") of
// an event that is a line of the app's output (--capture-output); such
// an event has no level.
const CapturedStream = "stream"

// bareCaptured writes the lines of the app's own output that the error
// log carries without a level, its captured stdout and stderr
// (CapturedStream) and what it writes to wsgi.errors, as the bare line,
// as Gunicorn writes both into its error log's stream, and every other
// event with text.
type bareCaptured struct {
	text io.Writer // the text format
	out  io.Writer // under it
}

func (b bareCaptured) Write(p []byte) (int, error) {
	if !bytes.Contains(p, []byte(`"`+zerolog.LevelFieldName+`":`)) {
		var evt map[string]any
		if json.Unmarshal(p, &evt) == nil && evt[zerolog.LevelFieldName] == nil {
			msg, _ := evt[zerolog.MessageFieldName].(string)
			if _, err := io.WriteString(b.out, msg+"\n"); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return b.text.Write(p)
}
