package master

import (
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/handoff"
)

// The abort of a stuck worker goes to the thread it named, not to the
// process, where the kernel could deliver it on the stuck thread itself;
// a worker that named none, or whose thread is gone, gets it as before.
func TestAbortGoesToTheWorkersSignalThread(t *testing.T) {
	cfg := testConfig(3)
	cfg.Timeout = 2 * time.Second
	ta := startArbiter(t, cfg)
	named, unnamed, gone := ta.os.spawned[0].pid, ta.os.spawned[1].pid, ta.os.spawned[2].pid
	ta.onEvent(event{kind: evSigThread, pid: named, tid: 7001})
	ta.onEvent(event{kind: evSigThread, pid: gone, tid: 7003})
	ta.os.goneThreads = []int{7003}
	ta.readyAll()
	for _, pid := range []int{named, unnamed, gone} {
		ta.onEvent(event{kind: evHeartbeat, pid: pid, hb: handoff.Heartbeat{CallAge: time.Second, Method: "GET", Path: "/"}})
	}
	ta.tick(time.Second)
	want := []sentThreadSig{{pid: named, tid: 7001, sig: handoff.AbortSignal}}
	if len(ta.os.toThread) != 1 || ta.os.toThread[0] != want[0] {
		t.Fatalf("signals to threads %v; want %v", ta.os.toThread, want)
	}
	if got := ta.os.signalled(handoff.AbortSignal); !equalInts(got, []int{unnamed, gone}) {
		t.Fatalf("SIGABRT to the processes %v; want %d (named no thread) and %d (its thread is gone)", got, unnamed, gone)
	}
}
