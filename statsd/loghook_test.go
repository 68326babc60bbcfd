package statsd

import (
	"testing"

	"github.com/rs/zerolog"
)

// TestLogMetric: the error log's lines count as Gunicorn's Statsd logger
// counts them; a line without a level (the app's captured output) counts
// in none, as Gunicorn's capture bypasses its logger.
func TestLogMetric(t *testing.T) {
	for _, tt := range []struct {
		level zerolog.Level
		msg   string
		want  string
	}{
		{zerolog.InfoLevel, "booted", ""},
		{zerolog.WarnLevel, "x", LogWarning},
		{zerolog.ErrorLevel, "x", LogError},
		{zerolog.ErrorLevel, "boom:\nTraceback (most recent call last):\n", LogException},
		{zerolog.FatalLevel, "worker timeout", LogCritical},
		{zerolog.NoLevel, "WARNING:app:captured from stderr", ""},
	} {
		if got := logMetric(tt.level, tt.msg); got != tt.want {
			t.Errorf("%v %q: %q; want %q", tt.level, tt.msg, got, tt.want)
		}
	}
}
