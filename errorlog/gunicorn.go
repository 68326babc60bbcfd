package errorlog

import (
	"fmt"
	"io"

	"github.com/rs/zerolog"
)

// gunicornLevels are the level names Gunicorn's error log shows, Python's
// levelname, by zerolog's level name.
var gunicornLevels = map[string]string{
	"trace": "DEBUG", "debug": "DEBUG", "info": "INFO", "warn": "WARNING",
	"error": "ERROR", "fatal": "CRITICAL", "panic": "CRITICAL",
}

// gunicornWriter writes each event as Gunicorn's error log writes a line
// (its error_fmt "%(asctime)s [%(process)d] [%(levelname)s] %(message)s"
// with datefmt "[%Y-%m-%d %H:%M:%S %z]", in local time), so log pipelines
// parsing Gunicorn's lines parse gowsgi's; the event's other fields
// follow the message as key=value, where Gunicorn writes them into the
// message text:
//
//	[2026-12-07 03:23:25 +0000] [6503] [INFO] listening address=127.0.0.1:8000
func gunicornWriter(out io.Writer) zerolog.ConsoleWriter {
	return zerolog.ConsoleWriter{
		Out:           out,
		NoColor:       true,
		TimeFormat:    "[2006-01-02 15:04:05 -0700]",
		PartsOrder:    []string{zerolog.TimestampFieldName, "pid", zerolog.LevelFieldName, zerolog.MessageFieldName},
		FieldsExclude: []string{"role", "pid"},
		FieldsOrder:   []string{"worker"},
		FormatLevel: func(v any) string {
			name, _ := v.(string)
			if g, ok := gunicornLevels[name]; ok {
				return "[" + g + "]"
			}
			return fmt.Sprintf("[%v]", v)
		},
		FormatPartValueByName: func(v any, name string) string { return fmt.Sprintf("[%v]", v) },
	}
}
