package worker

import (
	_ "embed"
	"encoding/json"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/rs/zerolog"
)

// Python's logging is set up in each worker's interpreter as Gunicorn
// sets it up (pylogging.py), before the server hooks and the app load;
// with --preload, in the zygote before the import.

//go:embed pylogging.py
var pyloggingPy string

// pyloggingSource is pylogging.py with the gunicorn module stand-in and
// gunicorn.glogging it uses.
var pyloggingSource = gunicornModule + pyloggingPy

// loggingSettings is what pylogging.py's setup() reads; paths go on
// sys.path first, as the app's (the working directory, --pythonpath), so
// a configuration may name the app's own handler or formatter classes,
// as under Gunicorn, whose master puts them there before it sets up
// logging.
func loggingSettings(cfg *config.Config, paths []string) string {
	s := map[string]any{
		"paths":          paths,
		"loglevel":       cfg.LogLevel,
		"logconfig_json": cfg.LogConfigJSON,
		"logconfig":      cfg.LogConfig,
		// uvicorn.* loggers as Uvicorn's worker sets them up, also when
		// the app may turn out to be ASGI (set up before its import).
		"asgi": cfg.WorkerClass == config.WorkerClassASGI || cfg.DetectASGI,
		// The access log's records, as Gunicorn's Logger.access logs
		// them with a logging configuration: their message, and whether
		// Gunicorn would have put handlers of its own on gunicorn.access
		// (whose lines gowsgi writes in Go) before applying it.
		"access_log_format": cfg.AccessLogFormat,
		"access_handler":    cfg.AccessLog != "" || cfg.AccessToSyslog(),
	}
	if cfg.LogConfigDict != "" {
		s["logconfig_dict"] = json.RawMessage(cfg.LogConfigDict)
	}
	// The config file: __config__.NAME of a logger class is found there,
	// and a logconfig_dict that holds its objects is taken from it.
	s["config"] = cfg.ConfigFile
	if cfg.LoggerClass != "" {
		// The class is made with Gunicorn's cfg.
		s["logger_class"], s["cfg"] = cfg.LoggerClass, cfg.GunicornValues()
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic("worker: logging settings: " + err.Error()) // strings, a bool and a JSON object
	}
	return string(b)
}

// pythonLogSink writes what Python's logging sends to the error log
// (gunicorn.error's handler), naming the logger.
func pythonLogSink(log zerolog.Logger) func(level int, logger, text string) {
	return func(level int, logger, text string) {
		log.WithLevel(errorlog.PythonLevelNumber(level)).Str("logger", logger).Msg(text)
	}
}
