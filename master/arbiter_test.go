package master

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/handoff"
)

func TestStartAnnouncesReadyOnceAllWorkersAre(t *testing.T) {
	ta := startArbiter(t, testConfig(3))
	if got := len(ta.os.spawned); got != 3 {
		t.Fatalf("spawned %d workers; want 3", got)
	}
	ta.onEvent(event{kind: evReady, pid: ta.os.spawned[0].pid})
	ta.onEvent(event{kind: evReady, pid: ta.os.spawned[1].pid})
	if ta.os.readies != 0 {
		t.Fatalf("announced ready with 2 of 3 workers ready")
	}
	ta.onEvent(event{kind: evReady, pid: ta.os.spawned[2].pid})
	ta.onEvent(event{kind: evReady, pid: ta.os.spawned[2].pid}) // a duplicate changes nothing
	if ta.os.readies != 1 {
		t.Fatalf("ready announced %d times; want once", ta.os.readies)
	}
}

func TestDeadWorkerIsRespawnedAtOnce(t *testing.T) {
	ta := startArbiter(t, testConfig(2))
	ta.readyAll()
	victim := ta.os.spawned[0].pid
	ta.killed(victim, syscall.SIGKILL)
	if len(ta.os.spawned) != 3 {
		t.Fatalf("spawned %d workers after one died; want a replacement (3)", len(ta.os.spawned))
	}
	if got := ta.livePIDs(); len(got) != 2 || got[0] == victim {
		t.Fatalf("live workers %v; want 2 without %d", got, victim)
	}
	if !strings.Contains(ta.log.String(), `"signal":"killed"`) {
		t.Errorf("log lacks the signal that killed the worker:\n%s", ta.log)
	}
}

func TestRespawnBacksOffWhenWorkersKeepDying(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.readyAll()
	// Two quick deaths are replaced at once, the third waits 100ms,
	// the fourth 200ms.
	for i := range 2 {
		ta.die(ta.livePIDs()[0], 1)
		if len(ta.os.spawned) != 2+i {
			t.Fatalf("death %d: %d spawned; want an immediate respawn", i+1, len(ta.os.spawned))
		}
		ta.onEvent(event{kind: evReady, pid: ta.livePIDs()[0]})
	}
	for i, delay := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} {
		ta.die(ta.livePIDs()[0], 1)
		spawned := len(ta.os.spawned)
		if len(ta.workers) != 0 || ta.respawnAt.Sub(ta.os.now) != delay {
			t.Fatalf("death %d: respawn in %v with %d workers; want a delay of %v and none running",
				3+i, ta.respawnAt.Sub(ta.os.now), len(ta.workers), delay)
		}
		ta.onSignal(syscall.SIGTTIN) // nothing starts during the delay, not even for TTIN
		if len(ta.os.spawned) != spawned {
			t.Fatalf("a worker started during the respawn delay")
		}
		ta.tick(delay)
		if len(ta.os.spawned) != spawned+2 {
			t.Fatalf("after the delay: %d spawned; want %d (the respawn and the TTIN)", len(ta.os.spawned), spawned+2)
		}
		ta.onSignal(syscall.SIGTTOU)
		ta.readyAll()
		for _, pid := range ta.os.stopped() {
			if ta.workers[pid] != nil {
				ta.die(pid, 0)
			}
		}
	}
}

func TestBackoffIsCapped(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	for range 40 {
		ta.crashes = append(ta.crashes, ta.os.now)
	}
	ta.respawnAt = time.Time{}
	ta.scheduleRespawn()
	if got := ta.respawnAt.Sub(ta.os.now); got != maxBackoff {
		t.Fatalf("delay after 41 crashes = %v; want the cap %v", got, maxBackoff)
	}
}

func TestAppLoadErrorAtStartHaltsWithCode4(t *testing.T) {
	ta := startArbiter(t, testConfig(2))
	first, second := ta.os.spawned[0].pid, ta.os.spawned[1].pid
	ta.die(first, handoff.ExitAppLoadError)
	if ta.exitCode != handoff.ExitAppLoadError || ta.stop != quick {
		t.Fatalf("exit code %d, stop %d; want 4 and a quick stop", ta.exitCode, ta.stop)
	}
	// Still booting, it has no QUIT handler (Go would dump its stacks).
	if got := ta.os.signalled(syscall.SIGKILL); !equalInts(got, []int{second}) || len(ta.os.signalled(syscall.SIGQUIT)) != 0 {
		t.Fatalf("SIGKILL to %v, QUIT to %v; want SIGKILL to the booting worker %d", got, ta.os.signalled(syscall.SIGQUIT), second)
	}
	if len(ta.os.spawned) != 2 {
		t.Fatalf("a worker was respawned after the app failed to load")
	}
	if !strings.Contains(ta.log.String(), "the application could not be loaded") {
		t.Errorf("no clear log line:\n%s", ta.log)
	}
}

func TestWorkerBootErrorAtStartHaltsWithCode3(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.die(ta.os.spawned[0].pid, handoff.ExitWorkerBootError)
	if ta.exitCode != handoff.ExitWorkerBootError {
		t.Fatalf("exit code %d; want 3", ta.exitCode)
	}
}

func TestRepeatedBootFailuresAfterServingHalt(t *testing.T) {
	ta := startArbiter(t, testConfig(2))
	ta.readyAll()
	survivor := ta.os.spawned[1].pid
	ta.die(ta.os.spawned[0].pid, 1) // a crash; its replacements cannot import the app any more
	for i := 1; i <= maxBootFailures; i++ {
		if ta.stop != running {
			t.Fatalf("halted after %d boot failures; want %d", i-1, maxBootFailures)
		}
		if !ta.respawnAt.IsZero() {
			ta.tick(ta.respawnAt.Sub(ta.os.now))
		}
		last := ta.os.spawned[len(ta.os.spawned)-1].pid
		ta.die(last, handoff.ExitAppLoadError)
	}
	if ta.exitCode != handoff.ExitAppLoadError || ta.stop != quick {
		t.Fatalf("exit code %d, stop %d; want 4 and a quick stop", ta.exitCode, ta.stop)
	}
	if got := ta.os.signalled(syscall.SIGQUIT); !equalInts(got, []int{survivor}) {
		t.Fatalf("QUIT to %v; want the worker that kept serving, %d", got, survivor)
	}
}

func TestReadyResetsBootFailures(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.readyAll()
	for range 10 {
		ta.die(ta.livePIDs()[0], 1)
		if !ta.respawnAt.IsZero() {
			ta.tick(ta.respawnAt.Sub(ta.os.now))
		}
		ta.readyAll()
		ta.tick(crashWindow) // far apart: no backoff
	}
	if ta.stop != running {
		t.Fatalf("halted although every replacement got ready")
	}
}

func TestSpawnErrorBacksOffThenHalts(t *testing.T) {
	f := newFakeOS(t)
	f.spawnErr = errFake
	ta := &testArbiter{arbiter: newArbiter(nopLog(), f.effects(), testConfig(1)), os: f}
	for ta.stop == running {
		ta.fill()
		if !ta.respawnAt.IsZero() {
			ta.tick(ta.respawnAt.Sub(ta.os.now))
		}
		if ta.bootFailures > maxBootFailures {
			t.Fatal("never halted")
		}
	}
	if ta.exitCode != handoff.ExitWorkerBootError {
		t.Fatalf("exit code %d; want 3", ta.exitCode)
	}
}

func TestTTINAndTTOU(t *testing.T) {
	ta := startArbiter(t, testConfig(2))
	ta.readyAll()
	oldest := ta.os.spawned[0].pid
	ta.onSignal(syscall.SIGTTIN)
	if len(ta.os.spawned) != 3 || ta.cur.want != 3 {
		t.Fatalf("after TTIN: %d spawned, want %d; want 3 and 3", len(ta.os.spawned), ta.cur.want)
	}
	ta.readyAll()
	ta.onSignal(syscall.SIGTTOU)
	if got := ta.os.stopped(); !equalInts(got, []int{oldest}) {
		t.Fatalf("TTOU sent TERM to %v; want the oldest, %d", got, oldest)
	}
	ta.die(oldest, 0)
	if len(ta.os.spawned) != 3 {
		t.Fatalf("the worker stopped by TTOU was replaced")
	}
	for range 5 {
		ta.onSignal(syscall.SIGTTOU)
	}
	if ta.cur.want != 1 || len(ta.os.stopped()) != 2 {
		t.Fatalf("after many TTOU: want %d, %d TERMs; want 1 worker, 2 TERMs", ta.cur.want, len(ta.os.stopped()))
	}
}

func TestStoppedWorkerIsKilledAfterGracefulTimeout(t *testing.T) {
	ta := startArbiter(t, testConfig(2))
	ta.readyAll()
	ta.onSignal(syscall.SIGTTOU)
	stopped := ta.os.spawned[0].pid
	ta.tick(29 * time.Second)
	if len(ta.os.signalled(syscall.SIGKILL)) != 0 {
		t.Fatalf("killed before --graceful-timeout")
	}
	ta.tick(time.Second)
	if got := ta.os.signalled(syscall.SIGKILL); !equalInts(got, []int{stopped}) {
		t.Fatalf("SIGKILL to %v; want %d", got, stopped)
	}
}

func TestGracefulStopQuiescesBeforeTERM(t *testing.T) {
	ta := startArbiter(t, testConfig(2))
	ta.readyAll()
	ta.onSignal(syscall.SIGTERM)
	if len(ta.os.quiesces) != 1 || !ta.os.quiesces[0].wait || ta.os.quiesces[0].max != 15*time.Second {
		t.Fatalf("quiesce calls %+v; want one that waits for the queues, at most 15s", ta.os.quiesces)
	}
	if len(ta.os.sent) != 0 {
		t.Fatalf("signals %v sent before the listeners were quiet", ta.os.sent)
	}
	if !equalStrings(ta.os.notified, []string{"STOPPING=1"}) {
		t.Fatalf("notified %q; want STOPPING=1", ta.os.notified)
	}
	ta.onQuiesced()
	if got := ta.os.stopped(); len(got) != 2 {
		t.Fatalf("TERM sent to %v; want both workers", got)
	}
	ta.die(ta.os.spawned[0].pid, 0)
	if len(ta.os.spawned) != 2 {
		t.Fatalf("a worker was respawned during the stop")
	}
	ta.tick(30 * time.Second)
	if got := ta.os.signalled(syscall.SIGKILL); !equalInts(got, []int{ta.os.spawned[1].pid}) {
		t.Fatalf("SIGKILL at the graceful timeout to %v; want the worker left", got)
	}
}

func TestSecondQuitMakesGracefulStopQuick(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.readyAll()
	ta.onSignal(syscall.SIGTERM)
	ta.onSignal(syscall.SIGTERM)
	if len(ta.os.quiesces) != 1 {
		t.Fatalf("a second TERM quiesced again")
	}
	ta.onSignal(syscall.SIGINT)
	if ta.stop != quick || len(ta.os.signalled(syscall.SIGQUIT)) != 1 {
		t.Fatalf("INT during a graceful stop: stop %d, QUITs %v", ta.stop, ta.os.signalled(syscall.SIGQUIT))
	}
	ta.onQuiesced() // late: must not send TERM during a quick stop
	if len(ta.os.stopped()) != 0 {
		t.Fatalf("TERM sent during a quick stop")
	}
	ta.tick(quickStopGrace)
	if len(ta.os.signalled(syscall.SIGKILL)) != 1 {
		t.Fatalf("no SIGKILL after the quick stop grace")
	}
}

func TestStopWithoutAcceptingWorkersDoesNotWaitForQueues(t *testing.T) {
	ta := startArbiter(t, testConfig(1)) // booting, never ready
	ta.onSignal(syscall.SIGTERM)
	if ta.os.quiesces[0].wait {
		t.Fatalf("quiesce waits for the queues although no worker accepts")
	}
}

func TestUSR1ReopensLogsAndSignalsReadyWorkers(t *testing.T) {
	ta := startArbiter(t, testConfig(2))
	ta.onEvent(event{kind: evReady, pid: ta.os.spawned[0].pid})
	ta.onSignal(syscall.SIGUSR1)
	if ta.os.reopened != 1 {
		t.Fatalf("master log reopened %d times; want 1", ta.os.reopened)
	}
	if got := ta.os.signalled(syscall.SIGUSR1); !equalInts(got, []int{ta.os.spawned[0].pid}) {
		t.Fatalf("USR1 sent to %v; want only the ready worker (a booting one would die of it)", got)
	}
}

func TestWINCHStopsWorkersAndKeepsMaster(t *testing.T) {
	ta := startArbiter(t, testConfig(2))
	ta.readyAll()
	ta.os.foreground = true
	ta.onSignal(syscall.SIGWINCH)
	if len(ta.os.sent) != 0 {
		t.Fatalf("WINCH in a terminal's foreground stopped workers")
	}
	ta.os.foreground = false
	ta.onSignal(syscall.SIGWINCH)
	if got := ta.os.stopped(); len(got) != 2 {
		t.Fatalf("WINCH sent TERM to %v; want both workers", got)
	}
	ta.die(ta.os.spawned[0].pid, 0)
	ta.die(ta.os.spawned[1].pid, 0)
	if ta.stop != running || len(ta.os.spawned) != 2 {
		t.Fatalf("after WINCH: stop %d, %d spawned; want the master running with no workers", ta.stop, len(ta.os.spawned))
	}
	ta.os.newConfig = testConfig(2)
	ta.onSignal(syscall.SIGHUP) // the rollback: workers come back
	if len(ta.os.spawned) != 4 {
		t.Fatalf("HUP after WINCH started %d workers; want 2", len(ta.os.spawned)-2)
	}
}

func TestUpgradeThenStopHandsOver(t *testing.T) {
	ta := startArbiter(t, testConfig(2))
	ta.readyAll()
	ta.onSignal(syscall.SIGUSR2)
	ta.onSignal(syscall.SIGUSR2)
	if ta.os.upgrades != 1 || ta.child == nil {
		t.Fatalf("%d upgrades started; want 1 (the second USR2 is ignored)", ta.os.upgrades)
	}
	child := ta.child.pid
	ta.onEvent(event{kind: evChildReady, pid: child})
	ta.onSignal(syscall.SIGTERM)
	if len(ta.os.quiesces) != 0 {
		t.Fatalf("the stop quiesced listeners the new master serves")
	}
	if got := ta.os.stopped(); len(got) != 2 {
		t.Fatalf("TERM to %v; want both workers at once", got)
	}
	if !equalStrings(ta.os.notified, []string{"MAINPID=" + itoa(child)}) {
		t.Fatalf("notified %q; want MAINPID of the new master", ta.os.notified)
	}
	if !ta.handedOver() {
		t.Fatalf("handedOver() = false; the new master owns the pidfile and socket files")
	}
}

func TestFailedUpgradeKeepsServing(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.readyAll()
	ta.onSignal(syscall.SIGUSR2)
	ta.die(ta.child.pid, 2)
	if ta.child != nil || ta.handedOver() {
		t.Fatalf("the dead new master is still recorded")
	}
	if len(ta.workers) != 1 || len(ta.os.spawned) != 1 {
		t.Fatalf("the old master's workers changed")
	}
	ta.onSignal(syscall.SIGUSR2)
	if ta.os.upgrades != 2 {
		t.Fatalf("a new USR2 after a failed upgrade was ignored")
	}
}

func TestPromotionTakesThePidfile(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.onEvent(event{kind: evPromoted})
	if ta.os.promoted != 1 {
		t.Fatalf("promote called %d times; want 1", ta.os.promoted)
	}
}

func TestOrphansAreReapedQuietly(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.readyAll()
	ta.die(99999, 0) // an app's grandchild, re-parented to us
	if len(ta.workers) != 1 || len(ta.os.spawned) != 1 || ta.stop != running {
		t.Fatalf("an orphan's exit changed the workers")
	}
}
