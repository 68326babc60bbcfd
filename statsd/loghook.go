package statsd

import (
	"strings"

	"github.com/rs/zerolog"
)

// LogHook counts the error log's lines as Gunicorn's Statsd logger does:
// gunicorn.log.warning, .error, .critical and .exception, one per line.
// Gunicorn counts a line logged with log.exception() (a traceback
// attached) as an exception and not as an error; here that is an error
// line carrying a Python traceback. It counts the lines the --log-level
// lets through (Gunicorn counts the others too).
type LogHook struct{ c *Client }

var _ zerolog.Hook = LogHook{}

// NewLogHook returns the hook for c; it counts nothing for a nil c.
func NewLogHook(c *Client) LogHook { return LogHook{c: c} }

// Run is called by zerolog for every line, on the goroutine logging it.
func (h LogHook) Run(_ *zerolog.Event, level zerolog.Level, msg string) {
	if h.c == nil {
		return
	}
	if name := logMetric(level, msg); name != "" {
		h.c.Incr(name)
	}
}

// pythonTraceback starts every traceback Python prints
// (traceback.format_exception).
const pythonTraceback = "Traceback (most recent call last):"

func logMetric(level zerolog.Level, msg string) string {
	switch level {
	case zerolog.WarnLevel:
		return LogWarning
	case zerolog.ErrorLevel:
		if strings.Contains(msg, pythonTraceback) {
			return LogException
		}
		return LogError
	case zerolog.FatalLevel, zerolog.PanicLevel:
		return LogCritical
	}
	return ""
}
