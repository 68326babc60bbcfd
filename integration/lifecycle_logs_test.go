package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// USR1 after logrotate moved the access log: the workers reopen it by
// name, so the next lines go to a new file at the same path.
func TestUSR1ReopensTheAccessLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	s := start(t, serverOpts{args: []string{"-w", "2", "--access-logfile", path, "--access-logformat", "%(U)s", "basic:hello"}, ready: 2})
	s.get("/before")
	waitForFileLines(t, s, path, 1)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGUSR1)
	s.waitFor(func() bool { return len(s.find("reopened the log files")) >= 2 })
	s.get("/after")
	if lines := waitForFileLines(t, s, path, 1); len(lines) != 1 || lines[0] != "/after" {
		t.Fatalf("new access.log holds %q; want [/after]", lines)
	}
	if old, _ := os.ReadFile(path + ".1"); string(old) != "/before\n" {
		t.Fatalf("rotated access.log.1 holds %q; want /before only", old)
	}
}

// A request the worker dies with still gets its access line: 504 when
// the master aborts a call that outlived --timeout, 503 on a quick stop.
func TestUnfinishedRequestsGetTheirAccessLine(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		stop func(s *server)
		want string
	}{
		{"timeout", []string{"-t", "1"}, func(*server) {}, "/slow 504"},
		{"quick stop", nil, func(s *server) { s.signal(syscall.SIGINT) }, "/slow 503"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path, mark := filepath.Join(dir, "access.log"), filepath.Join(dir, "in-flight")
			args := append(tt.args, "--access-logfile", path, "--access-logformat", "%(U)s %(s)s", "basic:slow")
			s := start(t, serverOpts{args: args})
			go func() {
				if resp, err := client.Get(s.url("/slow?seconds=30&mark=" + mark)); err == nil {
					resp.Body.Close()
				}
			}()
			s.waitFor(func() bool { _, err := os.Stat(mark); return err == nil })
			tt.stop(s)
			if lines := waitForFileLines(t, s, path, 1); lines[0] != tt.want {
				t.Fatalf("access log %q; want %q", lines, tt.want)
			}
		})
	}
}

// USR1 after a rotation that only renamed the files, with workers
// running as --user in a log directory of root's (logrotate without
// `create`): the master creates the new files and hands them to the
// user, so the workers' lines go to them, not into the rotated ones.
func TestUSR1AfterRenameWithUserReopensNewFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("dropping privileges needs root")
	}
	dir, err := os.MkdirTemp("", "gowsgi-usr1-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // root's, as /var/log/app
		t.Fatal(err)
	}
	access, errlog := filepath.Join(dir, "access.log"), filepath.Join(dir, "error.log")
	s := start(t, serverOpts{binary: debianBinary(t), args: []string{"-u", "nobody", "-g", "nogroup",
		"--access-logfile", access, "--access-logformat", "%(U)s", "--error-logfile", errlog, "--log-format", "json", "basic:hello"},
		ready: -1})
	waitForFileLine := func(path, want string) {
		t.Helper()
		s.waitFor(func() bool {
			data, _ := os.ReadFile(path)
			return strings.Contains(string(data), want)
		})
	}
	waitForFileLine(errlog, "worker ready")
	s.mu.Lock()
	s.addr = listeningAddress(errlog)
	s.mu.Unlock()
	s.get("/before")
	waitForFileLine(access, "/before")
	for _, p := range []string{access, errlog} {
		if err := os.Rename(p, p+".1"); err != nil {
			t.Fatal(err)
		}
	}
	s.signal(syscall.SIGUSR1)
	waitForFileLine(errlog, `"message":"reopened the log files"`) // a worker's
	s.get("/after")
	waitForFileLine(access, "/after")
	if old, _ := os.ReadFile(access + ".1"); string(old) != "/before\n" {
		t.Fatalf("rotated access.log.1 holds %q; want /before only", old)
	}
	if data, _ := os.ReadFile(errlog + ".1"); strings.Contains(string(data), "cannot reopen") {
		t.Fatalf("a worker could not reopen its files:\n%s", data)
	}
}
