package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Workers run as SCHED_BATCH unless --no-sched-batch: every thread, the
// one running Python and those the app starts included; the master
// keeps the normal policy (worker/sched.go).
func TestWorkerSchedulingPolicy(t *testing.T) {
	const other, batch = 0, 3
	cases := []struct {
		name   string
		args   []string
		policy int
	}{
		{"default", []string{"-w", "2", "--threads", "2", "sched:app"}, batch},
		{"preload", []string{"-w", "2", "--preload", "sched:app"}, batch},
		{"no-sched-batch", []string{"-w", "2", "--no-sched-batch", "sched:app"}, other},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, serverOpts{args: tc.args, ready: 2})
			want := fmt.Sprintf("%d %d", tc.policy, tc.policy)
			for range 4 {
				if code, body := s.get("/"); code != 200 || body != want {
					t.Fatalf("GET / = %d %q; want 200 %q (policy of the app's thread and of a thread it started)", code, body, want)
				}
			}
			pids := s.workerPIDs()
			if len(pids) != 2 {
				t.Fatalf("worker pids %v; want 2", pids)
			}
			for _, pid := range pids {
				for tid, p := range threadPolicies(t, pid) {
					if p != tc.policy {
						t.Errorf("worker %d thread %d has policy %d; want %d", pid, tid, p, tc.policy)
					}
				}
			}
			for tid, p := range threadPolicies(t, s.cmd.Process.Pid) {
				if p != other {
					t.Errorf("master thread %d has policy %d; want %d (SCHED_OTHER)", tid, p, other)
				}
			}
		})
	}
}

// threadPolicies reads the scheduling policy of each thread of pid from
// /proc (proc(5): field 41 of stat).
func threadPolicies(t *testing.T, pid int) map[int]int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "stat"))
		if err != nil {
			continue // the thread ended
		}
		// The command name may hold spaces ("gowsgi: worker"): count
		// from after its closing parenthesis, where field 3 starts.
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		p, err := strconv.Atoi(fields[41-3])
		if err != nil {
			t.Fatalf("%s/%s/stat: policy %q: %v", dir, e.Name(), fields[41-3], err)
		}
		tid, _ := strconv.Atoi(e.Name())
		out[tid] = p
	}
	if len(out) == 0 {
		t.Fatalf("no threads read from %s", dir)
	}
	return out
}
