package integration

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestProcfile runs the web process of examples/Procfile as a Procfile
// runner (Heroku, honcho, foreman) does: `sh -c` with PORT and
// WEB_CONCURRENCY in the environment, from the application's root (here
// the repository, so examples/ is a package), gowsgi found on PATH.
// Without WEB_CONCURRENCY (a runner or platform that sets none) it
// starts one worker, Gunicorn's default.
func TestProcfile(t *testing.T) {
	root := repoDir(t)
	command := procfileCommand(t, filepath.Join(root, "examples", "Procfile"), "web")
	for _, workers := range []int{2, 0} {
		port := freeLoopbackPort(t)
		cmd := exec.Command("/bin/sh", "-c", command)
		cmd.Dir = root
		cmd.Env = append(os.Environ(),
			"PATH="+filepath.Join(root, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
			"PORT="+strconv.Itoa(port), "WEB_CONCURRENCY=")
		if workers > 0 {
			cmd.Env = append(cmd.Env, "WEB_CONCURRENCY="+strconv.Itoa(workers))
		}
		s := startCommand(t, cmd, max(workers, 1))
		want := "0.0.0.0:" + strconv.Itoa(port)
		if got := s.address(); got != want {
			t.Fatalf("listening on %q; want %s from $PORT", got, want)
		}
		code, body := do(t, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+"/", "")
		if code != 200 || body != "Hello, World!" {
			t.Fatalf("GET / = %d %q", code, body)
		}
		if n := len(s.workerPIDs()); n != max(workers, 1) {
			t.Fatalf("%d workers; want %d ($WEB_CONCURRENCY %d)", n, max(workers, 1), workers)
		}
	}
}

// procfileCommand returns the command of process type name: the text
// after "name:" on its line (the Procfile format).
func procfileCommand(t *testing.T, path, name string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if typ, command, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(typ) == name {
			return strings.TrimSpace(command)
		}
	}
	t.Fatalf("%s has no %s process", path, name)
	return ""
}
