package integration

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A project's own worker class (docs/gunicorn.md, worker_class): a
// subclass of Uvicorn's worker whose CONFIG_KWARGS set root_path and
// trust X-Forwarded-For from anyone, given with -k or in the config file,
// answers as Debian's Gunicorn with Uvicorn's worker answers. Through
// bin/gowsgi-debian, whose Python has Uvicorn to subclass.
func TestProjectWorkerClass(t *testing.T) {
	get := func(t *testing.T, base string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	conf := filepath.Join(t.TempDir(), "gunicorn.conf.py")
	if err := os.WriteFile(conf, []byte(`worker_class = "projworkers.ConfigurableWorker"`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base, _ := startGunicorn(t, conf, "projworkers:app")
	want := get(t, base)
	if want != "root_path=/mounted client=203.0.113.9\n" {
		t.Fatalf("Gunicorn with the class answers %q", want)
	}
	// The class itself, as a config file may give it to Gunicorn.
	classConf := filepath.Join(t.TempDir(), "gunicorn.conf.py")
	if err := os.WriteFile(classConf, []byte("from projworkers import ConfigurableWorker\n"+
		"worker_class = ConfigurableWorker\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-k", "projworkers.ConfigurableWorker", "projworkers:app"},
		{"-c", conf, "projworkers:app"},
		{"-c", classConf, "projworkers:app"},
	} {
		s := start(t, serverOpts{args: args, env: []string{"PYTHONPATH=" + appsDir}, binary: debianBinary(t)})
		if got := get(t, "http://"+s.address()); got != want {
			t.Errorf("%v: %q; want Gunicorn's %q", args, got, want)
		}
		if len(s.loggedContaining("worker class projworkers.ConfigurableWorker subclasses uvicorn.workers.UvicornWorker: "+
			"served as asgi, its CONFIG_KWARGS read as --forwarded-allow-ips=* --proxy-headers --root-path=/mounted")) != 1 {
			t.Errorf("%v: no notice of what the class is served as", args)
		}
	}
	// Where the class cannot be imported (bin/gowsgi's Python has no
	// Uvicorn), gowsgi stops with Python's reason.
	out, err := exec.Command(binary, "--chdir", appsDir, "-k", "projworkers.ConfigurableWorker", "--check-config",
		"projworkers:app").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `gowsgi: worker_class: worker class "projworkers.ConfigurableWorker": `+
		`ModuleNotFoundError: No module named 'uvicorn'`) {
		t.Errorf("without Uvicorn: %v\n%s", err, out)
	}
}
