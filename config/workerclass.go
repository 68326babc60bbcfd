package config

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A project's own worker class, a subclass of one gowsgi knows, as
// Gunicorn imports it (load_class): paperless-ngx's
// paperless.workers.ConfigurableWorker and the many like it, which
// subclass Uvicorn's worker only to set its CONFIG_KWARGS (Uvicorn's
// own advice for options its Gunicorn worker cannot take from the
// command line: root_path, proxy_headers, forwarded_allow_ips). The
// class is found by the Python config reader (class:PATH,
// worker/pyconfig.py) where Gunicorn's master would import it, and
// served as the class it subclasses, with its CONFIG_KWARGS read as
// Uvicorn's flags. Uvicorn's worker applies them over everything else,
// so they come last here too.

// pythonClassReader reports the class at path; a variable so that the
// unit tests, whose binary cannot run Python, can replace it.
var pythonClassReader = func(c *Config, path string) (*pyResult, error) {
	env := ApplyEnvChanges(os.Environ(), c.EnvChanges(os.LookupEnv))
	if len(c.PythonPath) > 0 { // Gunicorn puts --pythonpath on sys.path first
		paths := slices.Clone(c.PythonPath)
		if pp := os.Getenv("PYTHONPATH"); pp != "" {
			paths = append(paths, pp)
		}
		env = append(env, "PYTHONPATH="+strings.Join(paths, string(filepath.ListSeparator)))
	}
	return runPythonReader("class:"+path, c.Virtualenv, c.Chdir, env)
}

// resolveWorkerClass serves a worker class named by its import path as
// the class it subclasses (normalizeWorkerClass leaves such a path for
// this).
func resolveWorkerClass(c *Config) error {
	switch c.WorkerClass {
	case "sync", "gthread", WorkerClassASGI:
		return nil
	}
	path := c.WorkerClass
	res, err := pythonClassReader(c, path)
	if err == nil && (res.Error != "" || len(res.Names) != 1) {
		err = fmt.Errorf("%s (traceback above)", cmp.Or(res.Error, "no report"))
	}
	if err != nil {
		return &Error{Name: "worker_class", Err: fmt.Errorf("worker class %q: %w", path, err)}
	}
	n := res.Names[0]
	base, _ := n.Value.(string)
	class, err := normalizeWorkerClass(base)
	if err != nil {
		return &Error{Name: "worker_class", Err: fmt.Errorf("worker class %q subclasses %s: %w", path, base, err)}
	}
	c.WorkerClass = class.(string)
	notice := fmt.Sprintf("worker class %s subclasses %s: served as %s", path, base, c.WorkerClass)
	if len(n.UvicornKwargs) > 0 {
		words := uvicornKwargsFlags(n.UvicornKwargs)
		name := "CONFIG_KWARGS of " + path
		src, _, err := parseSource(newFlagIndex(), words, name, io.Discard)
		if err == nil {
			err = src.apply(c)
		}
		if err != nil {
			return err
		}
		c.Notices = append(c.Notices, src.notices...)
		for _, n := range src.remarks {
			c.remark(n)
		}
		notice += ", its CONFIG_KWARGS read as " + strings.Join(words, " ")
	}
	c.Notices = append(c.Notices, notice)
	return nil
}

// uvicornKwargsFlags writes Uvicorn's Config keyword arguments as its
// command line: root_path="/api" is --root-path=/api, proxy_headers=True
// --proxy-headers and False --no-proxy-headers; None is Uvicorn's
// default, no flag.
func uvicornKwargsFlags(kwargs map[string]any) []string {
	var words []string
	for _, k := range slices.Sorted(maps.Keys(kwargs)) {
		flag := strings.ReplaceAll(k, "_", "-")
		switch v := kwargs[k].(type) {
		case nil:
		case bool:
			if v {
				words = append(words, "--"+flag)
			} else {
				words = append(words, "--no-"+flag)
			}
		case []any:
			for _, x := range v {
				words = append(words, fmt.Sprintf("--%s=%v", flag, x))
			}
		default:
			words = append(words, fmt.Sprintf("--%s=%v", flag, v))
		}
	}
	return words
}
