package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSchedulingPolicyUnderSeccomp: under a seccomp profile that refuses
// sched_getattr and sched_setattr (EPERM), workers still run as
// SCHED_BATCH, through sched_setscheduler, and log no warning.
func TestSchedulingPolicyUnderSeccomp(t *testing.T) {
	const batch = 3
	launcher := filepath.Join(appsDir, "..", "seccomp_exec.py")
	s := start(t, serverOpts{bare: true, binary: "/usr/bin/python3", args: []string{launcher,
		fmt.Sprint(unix.SYS_SCHED_GETATTR), fmt.Sprint(unix.SYS_SCHED_SETATTR), "--",
		binary, "--chdir", appsDir, "-b", "127.0.0.1:0", "-w", "1", "--threads", "2", "sched:app"}})
	want := fmt.Sprintf("%d %d", batch, batch)
	if code, body := s.get("/"); code != 200 || body != want {
		t.Fatalf("GET / = %d %q; want 200 %q (policy of the app's thread and of a thread it started)", code, body, want)
	}
	pid := s.workerPIDs()[0]
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "\nSeccomp:\t2\n") {
		t.Fatal("the worker runs without the seccomp filter: the test proves nothing")
	}
	for tid, p := range threadPolicies(t, pid) {
		if p != batch {
			t.Errorf("worker thread %d has policy %d; want %d (SCHED_BATCH)", tid, p, batch)
		}
	}
	if strings.Contains(s.output(), "cannot move the worker to SCHED_BATCH") {
		t.Error("the worker warned that it could not move to SCHED_BATCH")
	}
}
