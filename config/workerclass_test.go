package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// fakeClassReader makes pythonClassReader report for path what reports
// says: a base class and its CONFIG_KWARGS, or an error.
func fakeClassReader(t *testing.T, reports map[string]*pyResult) {
	t.Helper()
	saved := pythonClassReader
	t.Cleanup(func() { pythonClassReader = saved })
	pythonClassReader = func(c *Config, path string) (*pyResult, error) {
		if r, ok := reports[path]; ok {
			return r, nil
		}
		return nil, errors.New("no such class in the test")
	}
}

func TestProjectWorkerClass(t *testing.T) {
	fakeClassReader(t, map[string]*pyResult{
		"paperless.workers.ConfigurableWorker": {Names: []pyName{{Name: "worker_class",
			Value: "uvicorn.workers.UvicornWorker",
			UvicornKwargs: map[string]any{"root_path": "/paperless", "proxy_headers": false,
				"forwarded_allow_ips": "*"}}}},
		"app.workers.Threaded": {Names: []pyName{{Name: "worker_class", Value: "gunicorn.workers.gthread.ThreadWorker"}}},
		"app.workers.Green":    {Names: []pyName{{Name: "worker_class", Value: "gunicorn.workers.ggevent.GeventWorker"}}},
		"app.workers.Broken":   {Error: "ImportError: cannot import name 'settings'"},
	})
	// CONFIG_KWARGS are applied over the command line, as Uvicorn's
	// worker applies them over what Gunicorn's settings give it.
	c, _, err := Load([]string{"a:b", "-k", "paperless.workers.ConfigurableWorker", "--root-path", "/cli"},
		env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.WorkerClass != WorkerClassASGI || c.RootPath != "/paperless" || c.ProxyHeaders ||
		strings.Join(c.ForwardedAllowIPs, ",") != "*" {
		t.Errorf("worker class %q root_path %q proxy_headers %v forwarded_allow_ips %v; want asgi, /paperless, false, *",
			c.WorkerClass, c.RootPath, c.ProxyHeaders, c.ForwardedAllowIPs)
	}
	want := "worker class paperless.workers.ConfigurableWorker subclasses uvicorn.workers.UvicornWorker: served as asgi, " +
		"its CONFIG_KWARGS read as --forwarded-allow-ips=* --no-proxy-headers --root-path=/paperless"
	if !strings.Contains(strings.Join(c.Notices, "\n"), want) {
		t.Errorf("notices %q; want %q", c.Notices, want)
	}

	c, _, err = Load([]string{"a:b", "-k", "app.workers.Threaded", "--threads", "4"}, env(nil), &bytes.Buffer{})
	if err != nil || c.WorkerClass != "gthread" {
		t.Errorf("a ThreadWorker subclass: %v, worker class %q; want gthread", err, c.WorkerClass)
	}
	for path, wantErr := range map[string]string{
		"app.workers.Green":  `worker_class: worker class "app.workers.Green" subclasses gunicorn.workers.ggevent.GeventWorker: worker class "gunicorn.workers.ggevent.GeventWorker" is not needed with gowsgi`,
		"app.workers.Broken": `worker_class: worker class "app.workers.Broken": ImportError: cannot import name 'settings' (traceback above)`,
		"app.workers.Gone":   `worker_class: worker class "app.workers.Gone": no such class in the test`,
	} {
		_, _, err := Load([]string{"a:b", "-k", path}, env(nil), &bytes.Buffer{})
		if err == nil || !strings.HasPrefix(err.Error(), wantErr) {
			t.Errorf("-k %s: %v; want %q", path, err, wantErr)
		}
	}
}

// A config file may give the class itself, as Gunicorn takes it: the
// reader names it by its import path.
func TestWorkerClassObjectInPythonFile(t *testing.T) {
	c, err := loadWithReport(t, `{"names": [{"name": "worker_class", "line": 2, "callable": true, "class": true,
		"value": "uvicorn.workers.UvicornWorker"}]}`, "a:b")
	if err != nil || c.WorkerClass != WorkerClassASGI {
		t.Errorf("worker_class = UvicornWorker: %v, worker class %q; want asgi", err, c.WorkerClass)
	}
	_, err = loadWithReport(t, `{"names": [{"name": "worker_class", "line": 5, "callable": true, "class": true,
		"value": ""}]}`, "a:b")
	want := "gunicorn.conf.py:5: worker_class: a worker class the config file defines itself cannot be served"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("a class defined in the file: %v; want %q", err, want)
	}
}
