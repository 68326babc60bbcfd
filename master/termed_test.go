package master

import (
	"syscall"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/handoff"
)

// A worker forwards a TERM it gets (handoff.MsgTermed, evTermed) and
// serves on until the master tells it to stop.

func TestTERMToOneWorkerStopsAndReplacesIt(t *testing.T) {
	ta := startArbiter(t, testConfig(2))
	ta.readyAll()
	lone := ta.os.spawned[0].pid
	ta.onEvent(event{kind: evTermed, pid: lone})
	ta.tick(termedGrace - time.Millisecond)
	if len(ta.os.sent) != 0 {
		t.Fatalf("signals %v sent before the master's own TERM could have come", ta.os.sent)
	}
	ta.tick(time.Millisecond)
	if got := ta.os.signalled(handoff.GracefulStopSignal); !equalInts(got, []int{lone}) {
		t.Fatalf("graceful stop sent to %v; want the worker that got TERM, %d", got, lone)
	}
	if len(ta.os.quiesces) != 0 || ta.stop != running {
		t.Fatal("a TERM to one worker began a stop of the server")
	}
	ta.die(lone, 0)
	if len(ta.os.spawned) != 3 {
		t.Fatalf("%d workers spawned; want the stopped one replaced", len(ta.os.spawned))
	}
}

func TestTERMToTheWholeGroupWaitsForTheQueues(t *testing.T) {
	ta := startArbiter(t, testConfig(2))
	ta.readyAll()
	ta.onSignal(syscall.SIGTERM) // the master's own, then each worker's
	for _, p := range ta.os.spawned {
		ta.onEvent(event{kind: evTermed, pid: p.pid})
	}
	if len(ta.os.sent) != 0 {
		t.Fatalf("signals %v sent before the accept queues were empty", ta.os.sent)
	}
	ta.onQuiesced()
	if got := ta.os.signalled(handoff.GracefulStopSignal); len(got) != 2 {
		t.Fatalf("graceful stop sent to %v; want both workers", got)
	}
	// A worker whose message comes after that is told again.
	late := ta.os.spawned[1].pid
	ta.onEvent(event{kind: evTermed, pid: late})
	if got := ta.os.signalled(handoff.GracefulStopSignal); len(got) != 3 || got[2] != late {
		t.Fatalf("graceful stop sent to %v; want %d told again", got, late)
	}
}

func TestWorkersTERMBeforeTheMastersWaitsForTheQueues(t *testing.T) {
	ta := startArbiter(t, testConfig(2))
	ta.readyAll()
	for _, p := range ta.os.spawned {
		ta.onEvent(event{kind: evTermed, pid: p.pid})
	}
	ta.tick(termedGrace / 2)
	ta.onSignal(syscall.SIGTERM)
	ta.tick(termedGrace)
	if len(ta.os.sent) != 0 {
		t.Fatalf("signals %v sent before the accept queues were empty", ta.os.sent)
	}
	ta.onQuiesced()
	if got := ta.os.signalled(handoff.GracefulStopSignal); len(got) != 2 {
		t.Fatalf("graceful stop sent to %v; want both workers", got)
	}
}

func TestTERMDuringTheShutdownDelayWaitsForIt(t *testing.T) {
	cfg := testConfig(1)
	cfg.ShutdownDelay = time.Hour
	ta := startArbiter(t, cfg)
	ta.readyAll()
	withOps(t, ta, nil)
	ta.onSignal(syscall.SIGTERM)
	ta.onEvent(event{kind: evTermed, pid: ta.os.spawned[0].pid})
	ta.tick(termedGrace)
	if len(ta.os.sent) != 0 {
		t.Fatalf("signals %v sent during the shutdown delay", ta.os.sent)
	}
}

func TestBootingWorkerIsStoppedByTERM(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.onSignal(syscall.SIGTERM)
	ta.onQuiesced()
	if got := ta.os.signalled(syscall.SIGTERM); len(got) != 1 {
		t.Fatalf("TERM sent to %v; want the booting worker (it has no handler for %v yet)", got, handoff.GracefulStopSignal)
	}
}
