package errorlog

import "github.com/rs/zerolog"

// Levels are Gunicorn's level names (--log-level), least severe first.
var Levels = []string{"debug", "info", "warning", "error", "critical"}

// zerologLevels maps each of Levels to zerolog's: Gunicorn's critical
// is zerolog's fatal level, which logger.WithLevel writes without
// exiting.
var zerologLevels = map[string]zerolog.Level{
	"debug":    zerolog.DebugLevel,
	"info":     zerolog.InfoLevel,
	"warning":  zerolog.WarnLevel,
	"error":    zerolog.ErrorLevel,
	"critical": zerolog.FatalLevel,
}

// PythonLevel maps the level of a message a server hook logged
// (server.log.warning(...)) to the error log's; a name not in Levels
// logs as an error.
func PythonLevel(name string) zerolog.Level {
	if l, ok := zerologLevels[name]; ok {
		return l
	}
	return zerolog.ErrorLevel
}

// PythonLevelNumber maps a Python logging level number (logging.INFO is
// 20) to the error log's: a custom level counts as the standard one
// below it.
func PythonLevelNumber(n int) zerolog.Level {
	switch {
	case n >= 50:
		return zerolog.FatalLevel // written by WithLevel without exiting
	case n >= 40:
		return zerolog.ErrorLevel
	case n >= 30:
		return zerolog.WarnLevel
	case n >= 20:
		return zerolog.InfoLevel
	}
	return zerolog.DebugLevel
}
