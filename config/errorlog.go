package config

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// ErrorLog is the error log shared by the master and its workers: each
// process opens it with OpenErrorLog and logs through Logger. Every
// event is one write(2) in O_APPEND mode, so lines from several
// processes do not interleave.
//
// Gunicorn's level names map to zerolog levels: debug, info, warning
// (warn), error, critical (fatal). Log a critical event with
// logger.WithLevel(zerolog.FatalLevel), which unlike logger.Fatal() does
// not exit.
type ErrorLog struct {
	path    string        // file appended to; "" for stderr. Immutable.
	console bool          // human-readable lines instead of JSON. Immutable.
	color   bool          // ANSI colours (console on a terminal). Immutable.
	level   zerolog.Level // Immutable.
	// hook sees every event of every Logger (--statsd-host counts
	// them); set by SetHook before the first Logger call, nil for none.
	hook zerolog.Hook

	mu     sync.Mutex
	out    io.Writer // guarded by mu; the file or os.Stderr
	file   *os.File  // guarded by mu; nil for stderr
	closed bool      // guarded by mu
}

// logWriter passes each event to the ErrorLog's current output, so
// loggers keep working across Reopen.
type logWriter struct{ l *ErrorLog }

var _ io.Writer = logWriter{}

func (w logWriter) Write(p []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	if w.l.closed {
		return 0, os.ErrClosed
	}
	return w.l.out.Write(p)
}

// zerologLevels maps Gunicorn's level names (validated by Load).
var zerologLevels = map[string]zerolog.Level{
	"debug":    zerolog.DebugLevel,
	"info":     zerolog.InfoLevel,
	"warning":  zerolog.WarnLevel,
	"error":    zerolog.ErrorLevel,
	"critical": zerolog.FatalLevel,
}

// OpenErrorLog opens c.ErrorLog: "-" or "" is stderr, anything else a
// file opened for appending (created 0644). The format is c.LogFormat,
// or when that is "": console on a terminal, JSON otherwise.
func OpenErrorLog(c *Config) (*ErrorLog, error) {
	level, ok := zerologLevels[c.LogLevel]
	if !ok {
		return nil, fmt.Errorf("config: log level %q: want one of debug, info, warning, error, critical", c.LogLevel)
	}
	l := &ErrorLog{level: level, out: os.Stderr}
	if c.ErrorLog != "" && c.ErrorLog != "-" {
		l.path = c.ErrorLog
		f, err := openAppend(l.path)
		if err != nil {
			return nil, err
		}
		l.file, l.out = f, f
	}
	tty := l.file == nil && isTerminal(os.Stderr)
	switch c.LogFormat {
	case "console":
		l.console = true
	case "json":
	case "":
		l.console = tty
	default:
		l.Close()
		return nil, fmt.Errorf("config: log format %q: want console or json", c.LogFormat)
	}
	l.color = l.console && tty
	return l, nil
}

func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("config: error log: %w", err)
	}
	return f, nil
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Logger returns a logger whose events carry role (such as "master" or
// "worker") and the calling process's pid.
func (l *ErrorLog) Logger(role string) zerolog.Logger {
	var w io.Writer = logWriter{l}
	if l.console {
		w = zerolog.ConsoleWriter{
			Out:         w,
			NoColor:     !l.color,
			TimeFormat:  "2006-01-02 15:04:05",
			FieldsOrder: []string{"role", "pid", "worker"},
		}
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
func (l *ErrorLog) SetHook(h zerolog.Hook) { l.hook = h }

// Reopen reopens the log file by its path, for log rotation (SIGUSR1):
// after logrotate moved the file, events go to a new file at the path.
// It does nothing for stderr.
func (l *ErrorLog) Reopen() error {
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
func (l *ErrorLog) RedirectStderr(f *os.File) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.path == "" {
		l.out = f
	}
}

// Close closes the log file; later events are dropped. It is idempotent
// and leaves stderr open.
func (l *ErrorLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.file == nil {
		return nil
	}
	return l.file.Close()
}
