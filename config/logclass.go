package config

import (
	"fmt"
	"strings"
)

// gunicornLoggers are the values of logger_class that mean Gunicorn's
// own Logger, which gowsgi's logs already are: its default, the entry
// point name, and the StatsD logger Gunicorn switches to by itself
// (gowsgi sends StatsD metrics in Go, --statsd-host).
var gunicornLoggers = []string{"gunicorn.glogging.Logger", "simple", "egg:gunicorn#simple", "#simple",
	"gunicorn.instrument.statsd.Statsd"}

// normalizeLoggerClass takes logger_class: "" for Gunicorn's own, else
// the dotted path of a class for the workers to import,
// module.Class ("__config__.NAME" for one a config file defines).
func normalizeLoggerClass(v any) (any, error) {
	path := strings.TrimSpace(v.(string))
	for _, own := range gunicornLoggers {
		if strings.EqualFold(path, own) {
			return "", nil
		}
	}
	if path == "" {
		return "", nil
	}
	if !isDottedPath(path) {
		return nil, fmt.Errorf("logger class %q: give it as module.Class, a subclass of gunicorn.glogging.Logger", path)
	}
	return path, nil
}
