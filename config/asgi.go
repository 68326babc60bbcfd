package config

import (
	"fmt"
	"strings"
)

// ASGI settings (docs/asgi.md): the worker class that serves ASGI apps,
// and Uvicorn's --loop and --lifespan under Gunicorn's setting names
// (asgi_loop, asgi_lifespan).

// WorkerClassASGI is Config.WorkerClass for an ASGI app: Gunicorn's
// "asgi", and Uvicorn's Gunicorn worker classes, which run the same.
const WorkerClassASGI = "asgi"

// asgiWorkerClasses are the -k values that mean WorkerClassASGI.
var asgiWorkerClasses = []string{"asgi", "uvicorn.workers.UvicornWorker", "uvicorn_worker.UvicornWorker"}

// normalizeLoop accepts Uvicorn's --loop values in any case.
//
//	"auto" → "auto";  "UVLOOP" → "uvloop";  "trio" → error
func normalizeLoop(v any) (any, error) {
	return oneOf(v.(string), "event loop", "auto", "asyncio", "uvloop")
}

// normalizeLifespan accepts Uvicorn's --lifespan values in any case.
//
//	"on" → "on";  "Off" → "off";  "yes" → error
func normalizeLifespan(v any) (any, error) {
	return oneOf(v.(string), "lifespan mode", "auto", "on", "off")
}

func oneOf(v, what string, allowed ...string) (any, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	return nil, fmt.Errorf("unknown %s %q: %s", what, v, strings.Join(allowed, ", "))
}

// checkASGI applies the rules between the ASGI worker and the other
// settings.
func checkASGI(c *Config) error {
	if c.WorkerClass != WorkerClassASGI {
		return nil
	}
	if c.Protocol == ProtocolUwsgi {
		return &Error{Name: "--protocol", Err: fmt.Errorf("uwsgi is not served to ASGI apps (--worker-class asgi) yet")}
	}
	return nil
}
