package errorlog

import (
	"testing"

	"github.com/rs/zerolog"
)

func TestPythonLevel(t *testing.T) {
	tests := []struct {
		name string
		want zerolog.Level
	}{
		{name: "debug", want: zerolog.DebugLevel},
		{name: "info", want: zerolog.InfoLevel},
		{name: "warning", want: zerolog.WarnLevel},
		{name: "error", want: zerolog.ErrorLevel},
		{name: "critical", want: zerolog.FatalLevel}, // WithLevel writes it without exiting
		{name: "exception", want: zerolog.ErrorLevel},
		{name: "", want: zerolog.ErrorLevel},
	}
	for _, tt := range tests {
		if got := PythonLevel(tt.name); got != tt.want {
			t.Errorf("PythonLevel(%q) = %v; want %v", tt.name, got, tt.want)
		}
	}
	for _, name := range Levels {
		if _, ok := zerologLevels[name]; !ok {
			t.Errorf("level %q of Levels has no zerolog level", name)
		}
	}
	if len(zerologLevels) != len(Levels) {
		t.Errorf("zerologLevels has %d names, Levels %d", len(zerologLevels), len(Levels))
	}
}
