package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestHookPreExec: USR2 runs pre_exec in the old master's hook host
// before the new master starts; the new master runs its own start hooks.
// A pre_exec that raises cancels the upgrade, as the failing child of
// Gunicorn's reexec leaves the old master serving.
func TestHookPreExec(t *testing.T) {
	dir := t.TempDir()
	evFile := filepath.Join(dir, "events")
	pidfile := filepath.Join(dir, "gowsgi.pid")
	s := start(t, serverOpts{args: []string{"-c", hookConf(t), "-p", pidfile, "basic:hello"},
		env: []string{"HOOK_EVENTS=" + evFile}})
	oldMaster := strconv.Itoa(s.cmd.Process.Pid)
	s.signal(syscall.SIGUSR2)
	s.waitFor(func() bool { return len(s.logged("upgrade: the new master serves")) == 1 })
	newMaster := readPidfile(pidfile + ".2")
	t.Cleanup(func() { syscall.Kill(newMaster, syscall.SIGKILL) })
	evs := readEvents(t, evFile)
	pre := eventIndex(evs, "pre_exec", oldMaster)
	started := eventIndex(evs, "on_starting", strconv.Itoa(newMaster))
	if pre < 0 || started < pre || strconv.Itoa(evs[pre].pid) == oldMaster {
		t.Fatalf("pre_exec at %d (pid %d), the new master's on_starting at %d; want pre_exec first, in the hook host",
			pre, evs[max(pre, 0)].pid, started)
	}
	syscall.Kill(newMaster, syscall.SIGTERM)
	s.signal(syscall.SIGTERM)
	if code := s.wait(20 * time.Second); code != 0 {
		t.Fatalf("old master exit code %d", code)
	}

	conf := writeConf(t, dir, "gunicorn.conf.py", "def pre_exec(server):\n    raise RuntimeError('not now')\n")
	s = start(t, serverOpts{args: []string{"-c", conf, "-p", filepath.Join(dir, "b.pid"), "basic:hello"}})
	s.signal(syscall.SIGUSR2)
	s.waitFor(func() bool { return len(s.logged("upgrade: the pre_exec hook failed; this master keeps serving")) == 1 })
	if _, err := os.Stat(filepath.Join(dir, "b.pid.2")); !os.IsNotExist(err) {
		t.Errorf("a new master started after pre_exec raised")
	}
	if code, _ := s.get("/"); code != 200 {
		t.Errorf("the old master does not serve after the cancelled upgrade: %d", code)
	}
}
