package master

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/handoff"
)

func TestStuckCallIsAbortedThenKilledAndReplaced(t *testing.T) {
	ta := servingWithTimeout(t, 1, 2*time.Second)
	stuck := ta.os.spawned[0].pid
	ta.tick(time.Second)
	ta.onEvent(event{kind: evHeartbeat, pid: stuck,
		hb: handoff.Heartbeat{CallAge: 500 * time.Millisecond, Method: "GET", Path: "/stuck?x=1"}})
	ta.armWake()
	if got := ta.wakeAt.Sub(ta.os.now); got != 1500*time.Millisecond {
		t.Fatalf("next wake in %v; want when the call reaches 2s, 1.5s", got)
	}
	ta.tick(1499 * time.Millisecond)
	if len(ta.os.sent) != 0 {
		t.Fatalf("signals %v before the call outlived --timeout", ta.os.sent)
	}
	ta.tick(time.Millisecond)
	if got := ta.os.signalled(handoff.AbortSignal); !equalInts(got, []int{stuck}) {
		t.Fatalf("SIGABRT to %v; want the stuck worker %d", got, stuck)
	}
	if len(ta.os.spawned) != 2 {
		t.Fatalf("no replacement started with the abort")
	}
	for _, want := range []string{"worker timeout", `"method":"GET"`, `"path":"/stuck?x=1"`, `"elapsed":2000`} {
		if !strings.Contains(ta.log.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, ta.log)
		}
	}
	ta.onEvent(event{kind: evAborted, pid: stuck})
	if got := ta.os.signalled(syscall.SIGKILL); !equalInts(got, []int{stuck}) {
		t.Fatalf("SIGKILL to %v after the stacks were logged; want %d", got, stuck)
	}
	ta.tick(abortGrace)
	if len(ta.os.signalled(syscall.SIGKILL)) != 1 {
		t.Fatalf("SIGKILL sent twice")
	}
	ta.killed(stuck, syscall.SIGKILL)
	if len(ta.os.spawned) != 2 || len(ta.workers) != 1 {
		t.Fatalf("after the kill: %d spawned, %d live; want the one replacement only", len(ta.os.spawned), len(ta.workers))
	}
}

func TestAbortedWorkerIsKilledAfterGraceWithoutAnswer(t *testing.T) {
	ta := servingWithTimeout(t, 1, 2*time.Second)
	pid := ta.os.spawned[0].pid
	ta.onEvent(event{kind: evHeartbeat, pid: pid, hb: handoff.Heartbeat{CallAge: time.Second, Method: "POST", Path: "/"}})
	ta.tick(time.Second)
	if len(ta.os.signalled(handoff.AbortSignal)) != 1 {
		t.Fatalf("no SIGABRT")
	}
	ta.tick(abortGrace - time.Millisecond)
	if len(ta.os.signalled(syscall.SIGKILL)) != 0 {
		t.Fatalf("SIGKILL before the abort grace")
	}
	ta.tick(time.Millisecond)
	if len(ta.os.signalled(syscall.SIGKILL)) != 1 {
		t.Fatalf("no SIGKILL after the abort grace")
	}
}

func TestSilentWorkerIsAborted(t *testing.T) {
	ta := servingWithTimeout(t, 2, 2*time.Second)
	alive, frozen := ta.os.spawned[0].pid, ta.os.spawned[1].pid
	for range 4 {
		ta.tick(500 * time.Millisecond)
		ta.onEvent(event{kind: evHeartbeat, pid: alive, hb: handoff.Heartbeat{}})
	}
	if got := ta.os.signalled(handoff.AbortSignal); !equalInts(got, []int{frozen}) {
		t.Fatalf("SIGABRT to %v; want only the worker silent for 2s, %d", got, frozen)
	}
	if !strings.Contains(ta.log.String(), "no heartbeat") {
		t.Errorf("log does not say the worker went silent:\n%s", ta.log)
	}
}

func TestIdleHeartbeatsKeepWorkerAlive(t *testing.T) {
	ta := servingWithTimeout(t, 1, time.Second)
	for range 100 {
		ta.tick(250 * time.Millisecond)
		ta.onEvent(event{kind: evHeartbeat, pid: ta.os.spawned[0].pid, hb: handoff.Heartbeat{}})
	}
	if len(ta.os.sent) != 0 {
		t.Fatalf("a worker sending heartbeats got %v", ta.os.sent)
	}
}

func TestTimeoutZeroNeverAborts(t *testing.T) {
	ta := servingWithTimeout(t, 1, 0)
	ta.onEvent(event{kind: evHeartbeat, pid: ta.os.spawned[0].pid, hb: handoff.Heartbeat{CallAge: time.Hour, Method: "GET", Path: "/"}})
	ta.tick(24 * time.Hour)
	if len(ta.os.sent) != 0 {
		t.Fatalf("--timeout 0 sent %v", ta.os.sent)
	}
}

func TestWorkerThatNeverBootsIsKilled(t *testing.T) {
	cfg := testConfig(1)
	cfg.Timeout = 2 * time.Second
	ta := startArbiter(t, cfg)
	ta.tick(minBootTimeout - time.Millisecond)
	if len(ta.os.sent) != 0 {
		t.Fatalf("killed a booting worker before %v", minBootTimeout)
	}
	ta.tick(time.Millisecond)
	pid := ta.os.spawned[0].pid
	if got := ta.os.signalled(syscall.SIGKILL); !equalInts(got, []int{pid}) {
		t.Fatalf("SIGKILL to %v; want the worker stuck booting", got)
	}
	ta.killed(pid, syscall.SIGKILL)
	if ta.bootFailures != 1 || len(ta.os.spawned) != 2 {
		t.Fatalf("boot failures %d, spawned %d; want 1 failure and a new try", ta.bootFailures, len(ta.os.spawned))
	}
}

// A stopping worker's calls are still timed: one hung in a worker that
// TTOU (or a HUP, --max-requests) stopped is aborted at --timeout, not
// left to --graceful-timeout.
func TestStoppingWorkerIsStillTimed(t *testing.T) {
	ta := servingWithTimeout(t, 2, 2*time.Second)
	stuck := ta.os.spawned[0].pid
	ta.onEvent(event{kind: evHeartbeat, pid: stuck, hb: handoff.Heartbeat{CallAge: time.Second, Method: "GET", Path: "/slow"}})
	ta.onSignal(syscall.SIGTTOU) // stops the oldest, the stuck one
	if ta.workers[stuck].state != stopping {
		t.Fatalf("TTOU left the oldest worker %v", ta.workers[stuck].state)
	}
	ta.tick(time.Second - time.Millisecond)
	if len(ta.os.signalled(handoff.AbortSignal)) != 0 {
		t.Fatal("aborted before the call outlived --timeout")
	}
	ta.tick(time.Millisecond)
	if got := ta.os.signalled(handoff.AbortSignal); !equalInts(got, []int{stuck}) {
		t.Fatalf("SIGABRT to %v; want the stopping worker %d, whose call outlived --timeout", got, stuck)
	}
	if len(ta.os.spawned) != 2 {
		t.Fatalf("%d workers spawned; TTOU's worker is not replaced", len(ta.os.spawned))
	}
}

// Once a stopping worker's requests are done (MsgExiting) its shutdown
// sends no heartbeats (an ASGI app's background tasks, atexit): only
// --graceful-timeout bounds it.
func TestExitingWorkerIsNotTimed(t *testing.T) {
	ta := servingWithTimeout(t, 2, 2*time.Second)
	w := ta.os.spawned[0].pid
	ta.onSignal(syscall.SIGTTOU)
	ta.onEvent(event{kind: evExiting, pid: w})
	ta.tick(29 * time.Second) // the other worker, silent meanwhile, is aborted
	if slices.Contains(ta.os.signalled(handoff.AbortSignal), w) || slices.Contains(ta.os.signalled(syscall.SIGKILL), w) {
		t.Fatalf("signals %v to a worker shutting down within --graceful-timeout", ta.os.sent)
	}
	ta.tick(time.Second)
	if !slices.Contains(ta.os.signalled(syscall.SIGKILL), w) {
		t.Fatalf("no SIGKILL to %d at --graceful-timeout: %v", w, ta.os.sent)
	}
}

// A retired worker's request may take as long as --timeout allows any
// request, not just --graceful-timeout (Gunicorn's sync workers are
// bounded by --timeout alone when HUP, TTOU or --max-requests retire
// them): with --timeout 120 and --graceful-timeout 30, a 60 s request
// that a recycle met finishes, and the shutdown after it still gets its
// 30 s.
func TestRetiredWorkersLongRequestFinishes(t *testing.T) {
	ta := servingWithTimeout(t, 2, 120*time.Second)
	w := ta.os.spawned[0].pid
	ta.onSignal(syscall.SIGTTOU) // retires the oldest, w
	for age := time.Second; age <= 60*time.Second; age += time.Second {
		ta.onEvent(event{kind: evHeartbeat, pid: w, hb: handoff.Heartbeat{CallAge: age, Method: "GET", Path: "/report"}})
		ta.onEvent(event{kind: evHeartbeat, pid: ta.os.spawned[1].pid})
		ta.tick(time.Second)
	}
	if slices.Contains(ta.os.signalled(syscall.SIGKILL), w) || slices.Contains(ta.os.signalled(handoff.AbortSignal), w) {
		t.Fatalf("signals %v: the retired worker's 60 s request was cut", ta.os.sent)
	}
	ta.onEvent(event{kind: evExiting, pid: w})
	ta.tick(29 * time.Second)
	if slices.Contains(ta.os.signalled(syscall.SIGKILL), w) {
		t.Fatalf("SIGKILL before the shutdown had --graceful-timeout: %v", ta.os.sent)
	}
	ta.tick(time.Second)
	if !slices.Contains(ta.os.signalled(syscall.SIGKILL), w) {
		t.Fatalf("no SIGKILL to %d at --graceful-timeout after it began exiting: %v", w, ta.os.sent)
	}
}

// In a graceful stop of the whole server a worker's stuck call is
// aborted at --timeout too.
func TestStuckCallIsAbortedDuringAStop(t *testing.T) {
	ta := servingWithTimeout(t, 1, 2*time.Second)
	w := ta.os.spawned[0].pid
	ta.onEvent(event{kind: evHeartbeat, pid: w, hb: handoff.Heartbeat{CallAge: time.Second, Method: "GET", Path: "/slow"}})
	ta.onSignal(syscall.SIGTERM)
	ta.onQuiesced()
	ta.tick(time.Second)
	if got := ta.os.signalled(handoff.AbortSignal); !equalInts(got, []int{w}) {
		t.Fatalf("SIGABRT to %v; want the stopping worker %d, whose call outlived --timeout", got, w)
	}
}

// servingWithTimeout is an arbiter whose workers are all ready, with
// --timeout timeout.
func servingWithTimeout(t *testing.T, workers int, timeout time.Duration) *testArbiter {
	cfg := testConfig(workers)
	cfg.Timeout = timeout
	ta := startArbiter(t, cfg)
	ta.readyAll()
	return ta
}

// TestMasterRunningLateJudgesAfterHeartbeats: a master that wakes far
// past its deadline (it was stopped, or starved of CPU) kills nobody for
// a silence it did not hear through: it reads the heartbeats first, then
// judges, and a worker still silent after that is a stuck worker as ever.
func TestMasterRunningLateJudgesAfterHeartbeats(t *testing.T) {
	ta := servingWithTimeout(t, 2, 10*time.Second)
	alive, silent := ta.os.spawned[0].pid, ta.os.spawned[1].pid
	ta.armWake()
	due := ta.wakeAt
	ta.wake, ta.wakeAt = nil, time.Time{} // as the loop takes the wake
	ta.os.advance(40 * time.Second)       // SIGSTOP of the master, then SIGCONT
	ta.onWake(due)
	if len(ta.os.sent) != 0 || !strings.Contains(ta.log.String(), "the master ran late") {
		t.Fatalf("after a late wake: signals %v; want none, and the lateness logged:\n%s", ta.os.sent, ta.log)
	}
	ta.armWake()
	if got := ta.wakeAt.Sub(ta.os.now); got != judgeGrace {
		t.Fatalf("next wake in %v; want the end of the grace, %v", got, judgeGrace)
	}
	ta.onEvent(event{kind: evHeartbeat, pid: alive}) // queued during the stop, read now
	ta.tick(judgeGrace)
	if got := ta.os.signalled(handoff.AbortSignal); !equalInts(got, []int{silent}) {
		t.Fatalf("SIGABRT to %v; want only the worker that stayed silent, %d", got, silent)
	}
}

// A wake a little late, as a busy machine's timers are, is no pause.
func TestMasterWakingSlightlyLateJudgesAtOnce(t *testing.T) {
	ta := servingWithTimeout(t, 1, 2*time.Second)
	ta.armWake()
	due := ta.wakeAt
	ta.wake, ta.wakeAt = nil, time.Time{}
	ta.os.advance(2*time.Second + lateWake)
	ta.onWake(due)
	if got := ta.os.signalled(handoff.AbortSignal); len(got) != 1 || strings.Contains(ta.log.String(), "ran late") {
		t.Fatalf("SIGABRT to %v; want the silent worker, judged at once", got)
	}
}

// A worker that asked to be replaced because a call did not stop at
// --request-timeout (stuck in C) gets --graceful-timeout once replaced,
// not --timeout: its call will not finish.
func TestStuckRetiredWorkerGetsGracefulTimeout(t *testing.T) {
	ta := servingWithTimeout(t, 1, 120*time.Second)
	w := ta.os.spawned[0].pid
	ta.onEvent(event{kind: evRetire, pid: w, note: "stuck"})
	ta.onEvent(event{kind: evReady, pid: ta.os.spawned[1].pid}) // the replacement
	if ta.workers[w].state != stopping {
		t.Fatalf("the stuck worker is %v once replaced; want stopping", ta.workers[w].state)
	}
	for range 29 {
		ta.onEvent(event{kind: evHeartbeat, pid: w, hb: handoff.Heartbeat{CallAge: time.Second}})
		ta.tick(time.Second)
	}
	if slices.Contains(ta.os.signalled(syscall.SIGKILL), w) {
		t.Fatalf("killed before --graceful-timeout: %v", ta.os.sent)
	}
	ta.tick(time.Second)
	if !slices.Contains(ta.os.signalled(syscall.SIGKILL), w) {
		t.Fatalf("no SIGKILL at --graceful-timeout to the stuck worker: %v", ta.os.sent)
	}
}

// With --timeout 0 a retired worker's requests are never cut, as under
// Gunicorn; its shutdown once they are done has --graceful-timeout.
func TestRetiredWorkerWithoutTimeoutFinishesItsRequests(t *testing.T) {
	ta := servingWithTimeout(t, 2, 0)
	w := ta.os.spawned[0].pid
	ta.onSignal(syscall.SIGTTOU)
	ta.tick(time.Hour)
	if slices.Contains(ta.os.signalled(syscall.SIGKILL), w) {
		t.Fatalf("SIGKILL to a retired worker with --timeout 0 still in its requests: %v", ta.os.sent)
	}
	ta.onEvent(event{kind: evExiting, pid: w})
	ta.tick(30 * time.Second)
	if !slices.Contains(ta.os.signalled(syscall.SIGKILL), w) {
		t.Fatalf("no SIGKILL at --graceful-timeout after it began exiting: %v", ta.os.sent)
	}
}
