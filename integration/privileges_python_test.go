package integration

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A worker switched to a user that cannot read the Python installation
// (here pyenv's, under /root, mode 0700) fails at interpreter start, and
// says why rather than only CPython's "failed to get the Python codec".
func TestUserCannotReadPython(t *testing.T) {
	if fi, err := os.Stat("/root"); err != nil || fi.Mode().Perm()&0o001 != 0 || !strings.HasPrefix(pythonBuiltFor(t), "/root/") {
		t.Fatalf("this test needs bin/gowsgi built for a Python under /root that others cannot enter (%v)", err)
	}
	s := start(t, serverOpts{args: []string{"-u", "nobody", "-g", "nogroup", "basic:hello"}, ready: -1})
	if code := s.wait(30 * time.Second); code != 3 {
		t.Fatalf("exit code %d; want 3, every worker failed to boot", code)
	}
	lines := s.linesWhere(func(m string) bool {
		return strings.HasPrefix(m, "the Python interpreter failed to start: ") &&
			strings.Contains(m, `the worker runs as user "nobody", which cannot enter /root on the way to the Python installation`)
	})
	if len(lines) == 0 {
		t.Fatalf("no explanation in the log:\n%s", s.output())
	}
}

// pythonBuiltFor is the interpreter bin/gowsgi was built for, from
// --version ("..., built for /path/bin/python3").
func pythonBuiltFor(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(binary, "--version").Output()
	if err != nil {
		t.Fatalf("gowsgi --version: %v", err)
	}
	_, after, _ := strings.Cut(string(out), "built for ")
	path, _, _ := strings.Cut(after, "\n")
	return strings.TrimSpace(path)
}
