package master

import (
	"strings"
	"syscall"
	"testing"
)

// hupTo starts a reload whose re-read configuration has workers workers.
func (ta *testArbiter) hupTo(workers int) {
	ta.os.newConfig = testConfig(workers)
	ta.onSignal(syscall.SIGHUP)
}

func TestHUPBootsNewGenerationBeforeStoppingOld(t *testing.T) {
	ta := startArbiter(t, testConfig(2))
	ta.readyAll()
	old := ta.livePIDs()
	ta.hupTo(3)
	fresh := ta.os.pidsSpawned(2)
	if len(fresh) != 3 || ta.os.spawned[2].cfg.Workers != 3 {
		t.Fatalf("HUP started %v; want 3 workers with the new configuration", fresh)
	}
	for _, pid := range fresh[:2] {
		ta.onEvent(event{kind: evReady, pid: pid})
	}
	if len(ta.os.sent) != 0 {
		t.Fatalf("old workers signalled %v before the whole new generation was ready", ta.os.sent)
	}
	ta.onEvent(event{kind: evReady, pid: fresh[2]})
	if got := ta.os.stopped(); !equalInts(got, old) {
		t.Fatalf("TERM to %v; want the old generation %v", got, old)
	}
	if !equalStrings(ta.os.notified, []string{"RELOADING=1", "READY=1"}) {
		t.Fatalf("notified %q; want RELOADING=1 then READY=1", ta.os.notified)
	}
	for _, pid := range old {
		ta.die(pid, 0)
	}
	if got := ta.livePIDs(); !equalInts(got, fresh) || len(ta.os.spawned) != 5 {
		t.Fatalf("live %v after the old ones exited; want %v and no respawn", got, fresh)
	}
}

func TestHUPWithBrokenAppKeepsOldWorkers(t *testing.T) {
	ta := startArbiter(t, testConfig(2))
	ta.readyAll()
	old := ta.livePIDs()
	ta.hupTo(2)
	fresh := ta.os.pidsSpawned(2)
	ta.die(fresh[0], 4) // the new code does not import
	if ta.stop != running || ta.exitCode != 0 {
		t.Fatalf("a failed reload stopped the master (stop %d, code %d)", ta.stop, ta.exitCode)
	}
	if got := ta.os.signalled(syscall.SIGKILL); !equalInts(got, fresh[1:]) {
		t.Fatalf("SIGKILL to %v; want the rest of the new generation, still booting, %v", got, fresh[1:])
	}
	if len(ta.os.stopped()) != 0 {
		t.Fatalf("old workers were stopped")
	}
	ta.die(fresh[1], 0)
	if got := ta.livePIDs(); !equalInts(got, old) || len(ta.os.spawned) != 4 {
		t.Fatalf("live %v, %d spawned; want the old %v and no respawn", got, len(ta.os.spawned), old)
	}
	if !strings.Contains(ta.log.String(), "reload failed") || !strings.Contains(ta.log.String(), "could not be loaded") {
		t.Errorf("log does not say why the reload failed:\n%s", ta.log)
	}
	ta.hupTo(2) // fixed: the next HUP works
	ta.readyAll()
	if got := ta.os.stopped(); !equalInts(got, old) {
		t.Fatalf("the next HUP stopped %v; want %v", got, old)
	}
}

func TestHUPWithConfigErrorChangesNothing(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.readyAll()
	ta.os.configErr = errFake
	ta.onSignal(syscall.SIGHUP)
	if len(ta.os.spawned) != 1 || ta.next != nil || len(ta.os.sent) != 0 {
		t.Fatalf("a HUP with a bad config changed the workers")
	}
	if !strings.Contains(ta.log.String(), errFake.Error()) {
		t.Errorf("the config error is not logged:\n%s", ta.log)
	}
}

// hupToBind starts a reload whose re-read configuration binds bind.
func (ta *testArbiter) hupToBind(bind ...string) {
	nc := testConfig(1)
	nc.Bind = bind
	ta.os.newConfig = nc
	ta.onSignal(syscall.SIGHUP)
}

func TestHUPRebindsAChangedBindAndClosesTheOldOnceServing(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.readyAll()
	ta.hupToBind("127.0.0.1:9000")
	if len(ta.os.rebinds) != 1 || ta.os.rebinds[0].gen != 2 || ta.os.rebinds[0].bind[0] != "127.0.0.1:9000" {
		t.Fatalf("rebinds %v; want generation 2 on 127.0.0.1:9000", ta.os.rebinds)
	}
	if got := ta.os.spawned[1].cfg.Bind; len(got) != 1 || got[0] != "127.0.0.1:9000" {
		t.Fatalf("new worker got bind %v; want the new address", got)
	}
	if !strings.Contains(ta.log.String(), `"address":"127.0.0.1:9000"`) {
		t.Errorf("the new address is not logged:\n%s", ta.log)
	}
	if len(ta.os.settled) != 0 {
		t.Fatalf("listeners closed (%v) before the new generation served", ta.os.settled)
	}
	ta.os.closeOnSettle = []*listener{{addr: "127.0.0.1:8000"}}
	ta.readyAll()
	if !equalInts(ta.os.settled, []int{2}) {
		t.Fatalf("settled %v once the new workers served; want generation 2's listeners kept", ta.os.settled)
	}
	if !strings.Contains(ta.log.String(), "no longer listening") {
		t.Errorf("the closed address is not logged:\n%s", ta.log)
	}
}

func TestHUPThatCannotBindKeepsEverything(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.readyAll()
	ta.os.rebindErr = errFake
	ta.hupToBind("127.0.0.1:80")
	if len(ta.os.spawned) != 1 || ta.next != nil || len(ta.os.sent) != 0 {
		t.Fatalf("a HUP that could not bind changed the workers")
	}
	if !strings.Contains(ta.log.String(), "cannot listen on the new addresses") || !strings.Contains(ta.log.String(), errFake.Error()) {
		t.Errorf("the bind error is not logged:\n%s", ta.log)
	}
	ta.os.rebindErr = nil
	ta.hupToBind("127.0.0.1:8001") // the next one works
	if len(ta.os.spawned) != 2 || ta.os.spawned[1].cfg.Bind[0] != "127.0.0.1:8001" {
		t.Fatalf("the next HUP spawned %v; want a worker on 127.0.0.1:8001", ta.os.spawned)
	}
}

func TestHUPWhoseWorkersFailClosesTheNewListeners(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.readyAll()
	ta.hupToBind("127.0.0.1:9000")
	ta.die(ta.os.spawned[1].pid, 4)
	if !equalInts(ta.os.settled, []int{1}) {
		t.Fatalf("settled %v after the new generation failed; want the current one's listeners kept", ta.os.settled)
	}
}

func TestHUPKeepsSystemdListenersAndSaysSo(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.readyAll()
	ta.os.rebindErr = errFixedListeners
	ta.hupToBind("0.0.0.0:9000")
	if got := ta.os.spawned[1].cfg.Bind; got[0] != "127.0.0.1:8000" {
		t.Fatalf("new worker got bind %v; want systemd's listeners kept", got)
	}
	if !strings.Contains(ta.log.String(), "keeping the listeners") {
		t.Errorf("no log line about the kept listeners:\n%s", ta.log)
	}
}

func TestHUPWithSameBindDoesNotRebind(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.readyAll()
	nc := testConfig(1)
	nc.Backlog = 10
	ta.os.newConfig = nc
	ta.onSignal(syscall.SIGHUP)
	if len(ta.os.rebinds) != 0 {
		t.Fatalf("rebinds %v for an unchanged bind", ta.os.rebinds)
	}
	if !strings.Contains(ta.log.String(), "sockets already bound keep theirs") {
		t.Errorf("no log line about the backlog kept:\n%s", ta.log)
	}
}

func TestHUPMovesThePidfileOnceServing(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.readyAll()
	nc := testConfig(1)
	nc.Pidfile = "/run/new.pid"
	ta.os.newConfig = nc
	ta.onSignal(syscall.SIGHUP)
	if len(ta.os.pidfiles) != 0 {
		t.Fatalf("pidfile moved to %v before the new workers served", ta.os.pidfiles)
	}
	ta.os.pidfileErr = errFake
	ta.readyAll()
	if !equalStrings(ta.os.pidfiles, []string{"/run/new.pid"}) {
		t.Fatalf("pidfile moves %v; want /run/new.pid", ta.os.pidfiles)
	}
	if !strings.Contains(ta.log.String(), "cannot write the new pidfile") {
		t.Errorf("the pidfile error is not logged:\n%s", ta.log)
	}
	ta.os.pidfileErr = nil
	ta.onSignal(syscall.SIGHUP) // still wanted: tried again
	ta.readyAll()
	if len(ta.os.pidfiles) != 2 {
		t.Fatalf("pidfile moves %v; want a second try", ta.os.pidfiles)
	}
}

func TestHUPDuringReloadFollowsIt(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.readyAll()
	ta.hupTo(1)
	ta.hupTo(1)
	if len(ta.os.spawned) != 2 {
		t.Fatalf("a second HUP started workers while the first reload booted")
	}
	ta.readyAll() // the first reload commits, the second starts
	if len(ta.os.spawned) != 3 || ta.next == nil {
		t.Fatalf("%d spawned after the first reload; want the second one booting", len(ta.os.spawned))
	}
}

func TestCodeChangeReloadKeepsWorkerCount(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.readyAll()
	ta.onSignal(syscall.SIGTTIN)
	ta.readyAll()
	ta.onEvent(event{kind: evCodeChanged, note: "app.py"})
	if len(ta.os.spawned) != 4 {
		t.Fatalf("a code change started %d workers; want the current 2", len(ta.os.spawned)-2)
	}
}

func TestCrashOfNewWorkerAfterReadyIsRespawnedInItsGeneration(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.readyAll()
	ta.hupTo(2)
	fresh := ta.os.pidsSpawned(1)
	ta.onEvent(event{kind: evReady, pid: fresh[0]})
	ta.die(fresh[0], 1)
	if ta.next == nil || len(ta.os.spawned) != 4 || ta.workers[ta.os.spawned[3].pid].gen != ta.next.n {
		t.Fatalf("a new worker dying after ready should be replaced within the reload")
	}
}

func TestMaxRequestsStartsReplacementFirst(t *testing.T) {
	ta := startArbiter(t, testConfig(2))
	ta.readyAll()
	tired := ta.os.spawned[0].pid
	ta.onEvent(event{kind: evRetire, pid: tired})
	if len(ta.os.spawned) != 3 {
		t.Fatalf("no replacement started for the retiring worker")
	}
	if len(ta.os.sent) != 0 {
		t.Fatalf("the retiring worker was signalled before its replacement was ready: %v", ta.os.sent)
	}
	ta.onEvent(event{kind: evReady, pid: ta.os.spawned[2].pid})
	if got := ta.os.stopped(); !equalInts(got, []int{tired}) {
		t.Fatalf("TERM to %v; want the retiring worker %d", got, tired)
	}
	ta.die(tired, 0)
	if len(ta.os.spawned) != 3 || len(ta.workers) != 2 {
		t.Fatalf("the retired worker's exit started another worker")
	}
}

func TestReloadCommitStopsRetiringWorkers(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.readyAll()
	tired := ta.os.spawned[0].pid
	ta.onEvent(event{kind: evRetire, pid: tired})
	ta.hupTo(1)
	ta.onEvent(event{kind: evReady, pid: ta.os.spawned[2].pid}) // the reload's worker
	if got := ta.os.stopped(); len(got) != 2 || got[0] != tired {
		t.Fatalf("TERM to %v; want the retiring worker and its replacement of the old generation", got)
	}
}

// A notice about the configuration (an ignored setting) is logged once,
// not again at every HUP that reads the same file.
func TestHUPRepeatsNoNotice(t *testing.T) {
	const notice = "--worker-tmp-dir is accepted and ignored"
	cfg := testConfig(1)
	cfg.Notices = []string{notice}
	ta := startArbiter(t, cfg)
	ta.readyAll()
	for range 2 {
		ta.os.newConfig = testConfig(1)
		ta.os.newConfig.Notices = []string{notice, "a new one"}
		ta.onSignal(syscall.SIGHUP)
		ta.readyAll()
	}
	if n := strings.Count(ta.log.String(), notice); n != 0 {
		t.Errorf("the start's notice logged %d times by the HUPs; want 0", n)
	}
	if n := strings.Count(ta.log.String(), "a new one"); n != 1 {
		t.Errorf("a notice new at a HUP logged %d times; want once", n)
	}
}

func TestHUPSaysTheMasterKeepsItsLogSettings(t *testing.T) {
	ta := startArbiter(t, testConfig(1))
	ta.readyAll()
	nc := testConfig(1)
	nc.LogLevel, nc.StatsdHost = "debug", "127.0.0.1:8125"
	ta.os.newConfig = nc
	ta.onSignal(syscall.SIGHUP)
	if !strings.Contains(ta.log.String(), `"settings":["loglevel","statsd"],"message":"reload: the master keeps the log and StatsD settings`) {
		t.Errorf("no warning naming loglevel and statsd:\n%s", ta.log)
	}
	ta.readyAll()
	ta.hupTo(1) // the start's settings again: master and workers agree
	if n := strings.Count(ta.log.String(), "the master keeps the log and StatsD settings"); n != 1 {
		t.Errorf("%d warnings; want one, for the HUP that parted them", n)
	}
}
