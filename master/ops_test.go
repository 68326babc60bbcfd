package master

import (
	"syscall"
	"testing"
	"time"
)

// withOps gives a test arbiter the operability state without a
// listener; every worker reads as using mb megabytes of private memory.
// The events the ops send (the end of a shutdown delay) arrive on the
// returned channel.
func withOps(t *testing.T, ta *testArbiter, mb map[int]uint64) (*ops, chan event) {
	t.Helper()
	events := make(chan event, 16)
	o, err := newOps(ta.cur.cfg, nopLog(), events)
	if err != nil {
		t.Fatal(err)
	}
	o.memOf = func(pid int) (memUsage, bool) {
		return memUsage{rss: mb[pid] << 20, uss: mb[pid] << 20}, true
	}
	ta.ops = o
	ta.observe()
	return o, events
}

// checkMemoryNow runs one memory check as watchMemory does.
func (ta *testArbiter) checkMemoryNow() {
	ta.checkMemory(ta.ops.readAll(ta.memoryCandidates()))
}

func TestMemoryRecyclingReplacesOneWorkerAtATime(t *testing.T) {
	cfg := testConfig(2)
	cfg.MaxWorkerMemory = 100
	ta := startArbiter(t, cfg)
	ta.readyAll()
	first := ta.livePIDs()
	mb := map[int]uint64{first[0]: 150, first[1]: 150}
	o, _ := withOps(t, ta, mb)

	ta.checkMemoryNow()
	ta.observe()
	if got := ta.states(); got[first[0]] != replacing || got[first[1]] != serving {
		t.Fatalf("after the first check: states %v; want %d replacing, %d serving", got, first[0], first[1])
	}
	if len(ta.os.spawned) != 3 {
		t.Fatalf("%d workers spawned, want a replacement started first (3)", len(ta.os.spawned))
	}
	ta.checkMemoryNow() // the second worker waits for the first to be gone
	ta.observe()
	if got := ta.states()[first[1]]; got != serving || len(ta.os.spawned) != 3 {
		t.Fatalf("a second worker recycled at once: state %v, %d spawned", got, len(ta.os.spawned))
	}
	repl := ta.os.spawned[2].pid
	ta.onEvent(event{kind: evReady, pid: repl})
	if sigs := ta.os.stopped(); !equalInts(sigs, []int{first[0]}) {
		t.Fatalf("TERM sent to %v, want %d once its replacement is ready", sigs, first[0])
	}
	ta.die(first[0], 0)
	ta.observe()
	if o.exits["memory"] != 1 || o.starts["memory"] != 1 || o.starts["boot"] != 2 {
		t.Fatalf("exits %v, starts %v; want one memory exit and start, two boots", o.exits, o.starts)
	}
	ta.checkMemoryNow() // now the second one
	ta.observe()
	if got := ta.states()[first[1]]; got != replacing {
		t.Fatalf("second worker state %v, want replacing", got)
	}
}

func TestMemoryRecyclingWaitsDuringStop(t *testing.T) {
	cfg := testConfig(1)
	cfg.MaxWorkerMemory = 100
	ta := startArbiter(t, cfg)
	ta.readyAll()
	withOps(t, ta, map[int]uint64{ta.livePIDs()[0]: 500})
	ta.onSignal(syscall.SIGTERM)
	ta.checkMemoryNow()
	if len(ta.os.spawned) != 1 {
		t.Fatalf("a worker was recycled during a stop")
	}
}

func TestShutdownDelayFailsReadinessFirst(t *testing.T) {
	cfg := testConfig(2)
	cfg.ShutdownDelay = 50 * time.Millisecond
	ta := startArbiter(t, cfg)
	ta.readyAll()
	_, events := withOps(t, ta, nil)
	if why := ta.notReady(); why != "" {
		t.Fatalf("not ready before TERM: %q", why)
	}
	ta.onSignal(syscall.SIGTERM)
	if why := ta.notReady(); why != "stopping" {
		t.Fatalf("notReady after TERM = %q, want stopping", why)
	}
	if ta.stop != running || len(ta.os.stopped()) != 0 || len(ta.os.quiesces) != 0 {
		t.Fatal("the stop began before the shutdown delay")
	}
	ta.onSignal(syscall.SIGTERM) // a second TERM does not cut the delay short
	if ta.stop != running {
		t.Fatal("a second TERM began the stop")
	}
	select {
	case ev := <-events:
		ta.onEvent(ev)
	case <-time.After(10 * time.Second):
		t.Fatal("the shutdown delay never ended")
	}
	if ta.stop != graceful {
		t.Fatalf("stop mode %v after the delay, want graceful", ta.stop)
	}
}

func TestWorkerExitReasons(t *testing.T) {
	cfg := testConfig(2)
	ta := startArbiter(t, cfg)
	ta.readyAll()
	o, _ := withOps(t, ta, nil)
	pids := ta.livePIDs()
	ta.killed(pids[0], syscall.SIGSEGV)
	ta.observe()
	ta.onEvent(event{kind: evRetire, pid: pids[1]})
	ta.observe()
	if o.exits["crash"] != 1 || o.starts["crash"] != 1 || o.starts["max-requests"] != 1 {
		t.Fatalf("exits %v, starts %v", o.exits, o.starts)
	}
}
