package integration

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// A worker that dropped to --user still dies with its master: Linux
// clears the parent-death signal on a uid change, so the worker re-arms
// it. Without that, a SIGKILLed master leaves workers serving unsupervised.
func TestUnprivilegedWorkersDieWithTheirMaster(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("dropping privileges needs root")
	}
	s := start(t, serverOpts{binary: debianBinary(t), args: []string{"-w", "2", "-u", "nobody", "-g", "nogroup", "peer:ids"}, ready: 2})
	pids := s.workerPIDs()
	if err := syscall.Kill(s.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("worker %d still runs after its master was killed", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
