package integration

import (
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Real Gunicorn config files run unchanged (testdata/gunicorn): the
// sample Gunicorn ships, and typical Flask and Django production
// configs with their hooks.

func confPath(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "gunicorn", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGunicornExampleConfig: Gunicorn's sample config, with its
// daemon = False, spew = False, None values and hooks.
func TestGunicornExampleConfig(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-c", confPath(t, "example_config.py"), "confapp:app"}})
	if code, body := s.get("/"); code != 200 || !strings.Contains(body, " - http") {
		t.Fatalf("GET /: %d %q", code, body)
	}
	pid := s.workerPIDs()[0]
	for _, want := range []string{"Server is ready. Spawning workers", "Worker spawned (pid: " + strconv.Itoa(pid) + ")"} {
		if len(s.loggedContaining(want)) != 1 {
			t.Errorf("the log does not say %q", want)
		}
	}
	// The response reaches the client just before its access line is
	// written; a quick stop in between logs the request as cut (503).
	s.waitFor(func() bool { return strings.Contains(s.output(), `"GET / HTTP/1.1" 200`) })
	s.signal(syscall.SIGINT)
	if code := s.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if l := s.loggedContaining("worker received INT or QUIT signal"); len(l) != 1 || l[0].num("pid") != pid {
		t.Errorf("worker_int did not log in worker %d: %v", pid, l)
	}
	if out := s.output(); !strings.Contains(out, `"GET / HTTP/1.1" 200`) {
		t.Errorf("no access log line on stdout:\n%s", out)
	}
}

// TestFlaskProductionConfig: gthread workers from the environment,
// timing hooks that keep state on req between pre_request and
// post_request, worker_exit.
func TestFlaskProductionConfig(t *testing.T) {
	s := start(t, serverOpts{
		args:  []string{"-c", confPath(t, "flask_production.conf.py"), "flaskapp"},
		env:   []string{"WEB_CONCURRENCY=2", "PYTHON_MAX_THREADS=2"},
		ready: 2,
	})
	req, _ := http.NewRequest("GET", s.url("/hello/prod"), nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /hello/prod: %d", resp.StatusCode)
	}
	s.waitFor(func() bool { return len(s.loggedContaining("timing GET /hello/prod -> 200 OK in ")) == 1 })
	if n := len(s.loggedContaining("forked (age ")); n != 2 {
		t.Errorf("post_fork logged %d times; want once per worker", n)
	}
	// At info: its purpose (liveness) is served another way, and the
	// Docker templates that set it would warn on every start.
	if l := s.loggedContaining("worker_tmp_dir is accepted and ignored"); len(l) != 1 || l[0].str("level") != "info" {
		t.Errorf("notice for worker_tmp_dir: %v; want one, at info", l)
	}
	s.signal(syscall.SIGTERM)
	if code := s.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if n := len(s.loggedContaining(" exiting")); n != 2 {
		t.Errorf("worker_exit logged %d times; want 2", n)
	}
}

// TestDjangoProductionConfig: preload_app with post_fork closing the
// database connections, wsgi_app from the file.
func TestDjangoProductionConfig(t *testing.T) {
	s := start(t, serverOpts{
		args:   []string{"-c", confPath(t, "django_production.conf.py")},
		env:    []string{"DJSITE_DB_DIR=" + t.TempDir()},
		binary: debianBinary(t),
		ready:  2,
	})
	if code, body := s.get("/admin/login/"); code != 200 || !strings.Contains(body, "Django administration") {
		t.Fatalf("admin login page: %d %.200q", code, body)
	}
	if n := len(s.loggedContaining("database connections closed after fork")); n != 2 {
		t.Errorf("post_fork ran %d times; want once per worker", n)
	}
	if len(s.loggedContaining("django ready with 2 workers")) != 1 {
		t.Errorf("when_ready did not log")
	}
}
