package master

import (
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/handoff"
	"github.com/gowsgi/gowsgi/statsd"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

type evKind uint8

const (
	evReady       evKind = iota // a worker loaded the app and accepts connections
	evHeartbeat                 // a worker's liveness report (hb)
	evRetire                    // a worker served --max-requests
	evAborted                   // a timed-out worker logged its stacks
	evTermed                    // a worker got TERM from someone else
	evExiting                   // a stopping worker's requests are done
	evChildReady                // the master started by USR2 serves
	evPromoted                  // the old master of our upgrade exited
	evCodeChanged               // --reload: a file of the app changed (note)
	evAdmin                     // run on the arbiter goroutine for the admin listener (admin.go)
	evSigThread                 // a worker named the thread for its abort and stack signals (tid)
)

type event struct {
	kind evKind
	pid  int
	hb   handoff.Heartbeat
	note string
	run  func(*arbiter) // evAdmin
	tid  int            // evSigThread
}

type stopMode uint8

const (
	running stopMode = iota
	graceful
	quick
)

// generation is one configuration the workers run with. HUP and --reload
// boot a whole new generation before the old one stops.
type generation struct {
	n         int
	cfg       *config.Config // never nil
	want      int            // workers to keep running
	everReady bool           // one of its workers got ready
}

// reloadReq is a request for a new generation.
type reloadReq struct {
	reason string // for logs: "HUP", "code changed: app.py"
	reread bool   // resolve the configuration again (HUP)
}

// childMaster is the new master started by USR2.
type childMaster struct {
	pid   int
	ready bool
}

// arbiter is the supervisor state, owned by the goroutine running loop;
// tests drive its handlers directly.
type arbiter struct {
	log zerolog.Logger
	env *osEffects // never nil

	cur     *generation // what workers run now; never nil
	next    *generation // a reload still booting; nil when none
	again   *reloadReq  // a reload asked for while next boots; nil when none
	lastGen int
	// started is the configuration the master started with: the one
	// its own error log and StatsD client keep (noteMasterKeeps).
	started *config.Config

	workers map[int]*workerProc // by pid
	nextID  int

	stop         stopMode
	exitCode     int
	stopDeadline time.Time       // a stop SIGKILLs the workers left at this time
	quiesced     <-chan struct{} // a graceful stop: closed when no new connection can queue

	crashes      []time.Time // recent unexpected exits, for the respawn backoff
	bootFailures int         // consecutive workers that died before ready
	respawnAt    time.Time   // zero unless a respawn is delayed

	child     *childMaster // nil unless USR2 started a new master that still runs
	announced bool         // the first generation was announced ready

	wake   <-chan time.Time // fires at wakeAt; nil when no deadline is armed
	wakeAt time.Time
	// judgeAfter: until then, after the master itself ran late, no
	// worker is judged by its deadlines (onWake).
	judgeAfter time.Time

	ops *ops // admin listener, stats, memory recycling (admin.go); nil in unit tests

	statsd        *statsd.Client // --statsd-host (statsd.go); nil when off
	statsdWorkers int            // the gunicorn.workers last sent; -1 before the first

	hooks *hookHost // runs the master-side server hooks (hooks.go); nil when none
}

// Respawn and stop policy: a worker that dies is replaced at once,
// unless workers keep dying, when the delay doubles up to maxBackoff.
// Workers that never boot stop the master after maxBootFailures in a
// row (at once when the app never loaded at all).
const (
	quickStopGrace = 2 * time.Second
	// termedGrace is how long after a worker says it got a TERM the
	// master's own TERM may still come (onTermed).
	termedGrace     = time.Second
	abortGrace      = 3 * time.Second // from SIGABRT to SIGKILL: worker_abort and worker_exit get a second each
	minBootTimeout  = 10 * time.Second
	crashWindow     = 10 * time.Second
	crashesForDelay = 3
	minBackoff      = 100 * time.Millisecond
	maxBackoff      = 10 * time.Second
	maxBootFailures = 5
)

func newArbiter(log zerolog.Logger, env *osEffects, cfg *config.Config) *arbiter {
	return &arbiter{
		log:     log,
		env:     env,
		cur:     &generation{n: 1, cfg: cfg, want: cfg.Workers},
		started: cfg,
		lastGen: 1,
		workers: make(map[int]*workerProc),

		statsdWorkers: -1,
	}
}

// loop supervises until the last worker is gone after a stop, and
// returns the master's exit code.
func (a *arbiter) loop(sigs <-chan os.Signal, events <-chan event) int {
	a.fill()
	for a.stop == running || len(a.workers) > 0 {
		a.armWake()
		select {
		case s := <-sigs:
			a.onSignal(s.(syscall.Signal))
		case ev := <-events:
			a.onEvent(ev)
		case <-a.wake:
			due := a.wakeAt
			a.wake, a.wakeAt = nil, time.Time{}
			a.onWake(due)
		case <-a.quiesced:
			a.quiesced = nil
			a.onQuiesced()
		}
		a.observe()
		a.gaugeWorkers()
	}
	a.gaugeWorkers()
	return a.exitCode
}

func (a *arbiter) onEvent(ev event) {
	switch ev.kind {
	case evReady:
		a.onReady(ev.pid)
	case evHeartbeat:
		if w := a.workers[ev.pid]; w != nil {
			w.heardAt, w.hb = a.env.now(), ev.hb
		}
	case evRetire:
		a.onRetire(ev.pid, ev.note == "stuck")
	case evAborted:
		if w := a.workers[ev.pid]; w != nil && w.state == aborting {
			a.kill(w)
		}
	case evTermed:
		a.onTermed(ev.pid)
	case evExiting:
		if w := a.workers[ev.pid]; w != nil {
			w.exiting = true
			if w.retired && w.state == stopping && !w.killed && a.stop == running {
				// A retirement's requests are done: its shutdown
				// (worker_exit, atexit) gets --graceful-timeout.
				w.killAt = a.env.now().Add(a.cur.cfg.GracefulTimeout)
			}
		}
	case evChildReady:
		a.onChildReady(ev.pid)
	case evPromoted:
		a.onPromoted()
	case evCodeChanged:
		a.startReload(reloadReq{reason: "code changed: " + ev.note})
	case evAdmin:
		ev.run(a)
	case evSigThread:
		if w := a.workers[ev.pid]; w != nil {
			w.signalTID = ev.tid
		}
	}
}

func (a *arbiter) onSignal(sig syscall.Signal) {
	if sig == syscall.SIGPIPE {
		return // a log reader went away (run.go); the writes say so with EPIPE
	}
	if sig != syscall.SIGCHLD {
		// As Gunicorn's arbiter logs each signal it handles ("Handling
		// signal: hup" under --log-format gunicorn), by its short name.
		a.log.Info().Str("signal", strings.ToLower(strings.TrimPrefix(unix.SignalName(sig), "SIG"))).
			Msg(errorlog.MsgSignal)
	}
	switch sig {
	case syscall.SIGCHLD:
		for _, e := range a.env.reap() {
			a.onExit(e)
		}
	case syscall.SIGTERM:
		if !a.delayStop() {
			a.beginStop(graceful, "graceful stop")
		}
	case syscall.SIGINT, syscall.SIGQUIT:
		a.beginStop(quick, "quick stop")
	case syscall.SIGHUP:
		a.startReload(reloadReq{reason: "HUP", reread: true})
	case syscall.SIGTTIN:
		a.addWorker()
	case syscall.SIGTTOU:
		a.removeWorker()
	case syscall.SIGUSR1:
		a.reopenLogs()
	case syscall.SIGUSR2:
		a.startUpgrade()
	case syscall.SIGWINCH:
		a.stopWorkersKeepMaster()
	default:
		a.log.Warn().Str("signal", sig.String()).Msg("signal not handled; ignored")
	}
}

// onTick runs whatever deadline has come.
func (a *arbiter) onTick() {
	now := a.env.now()
	if !a.respawnAt.IsZero() && !now.Before(a.respawnAt) {
		a.respawnAt = time.Time{}
		a.fill()
	}
	if a.stop != running && !a.stopDeadline.IsZero() && !now.Before(a.stopDeadline) {
		a.stopDeadline = time.Time{}
		a.log.Warn().Int("workers", len(a.workers)).Msg("stop timeout: killing the workers left")
		for _, w := range a.byID() {
			a.kill(w)
		}
	}
	a.checkWorkers(now)
}

// armWake makes sure a.wake fires by the earliest pending deadline.
func (a *arbiter) armWake() {
	next := a.respawnAt
	earlier := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if a.stop != running {
		earlier(a.stopDeadline)
	}
	if a.env.now().Before(a.judgeAfter) {
		earlier(a.judgeAfter) // the workers' deadlines wait for it
	} else {
		for _, w := range a.workers {
			earlier(w.deadline())
		}
	}
	if next.IsZero() || (a.wake != nil && !a.wakeAt.After(next)) {
		return
	}
	a.wakeAt = next
	a.wake = a.env.after(max(next.Sub(a.env.now()), 0))
}

// reopenLogs handles USR1: the master's log file and its hook host's,
// then the workers'.
// A worker still booting has no USR1 handler yet (Go would end it), so
// it is skipped: it opens its files afresh anyway.
func (a *arbiter) reopenLogs() {
	if err := a.env.reopenLogs(a.cur.cfg); err != nil {
		a.log.Error().Err(err).Msg("cannot reopen the log files")
	}
	a.hooks.reopenLogs() // the master's hooks' Python logging
	a.log.Info().Msg("log files reopened")
	for _, w := range a.byID() {
		if w.ready {
			a.env.signal(w.pid, syscall.SIGUSR1)
		}
	}
}

// startUpgrade handles USR2: a new master from the binary on disk,
// sharing our listeners. We keep serving until told to stop.
func (a *arbiter) startUpgrade() {
	if a.stop != running {
		return
	}
	if a.child != nil {
		a.log.Warn().Int("new_master_pid", a.child.pid).Msg("an upgrade is already under way; USR2 ignored")
		return
	}
	if a.hooks != nil {
		// Gunicorn runs pre_exec in its forked child just before the
		// exec: a failure there leaves the old master serving.
		if err := a.hooks.run(hookCall{Hook: "pre_exec", Server: a.serverState()}); err != nil {
			a.log.Error().Msg("upgrade: the pre_exec hook failed; this master keeps serving")
			return
		}
	}
	pid, err := a.env.execMaster()
	if err != nil {
		a.log.Error().Err(err).Msg("upgrade: cannot start the new master; this one keeps serving")
		return
	}
	a.child = &childMaster{pid: pid}
	a.log.Info().Int("new_master_pid", pid).Msg("upgrade: started a new master")
}

func (a *arbiter) onChildReady(pid int) {
	if a.child == nil || a.child.pid != pid {
		return
	}
	a.child.ready = true
	a.log.Info().Int("new_master_pid", pid).
		Msg("upgrade: the new master serves; send this master TERM to finish (WINCH first to keep it for a rollback)")
}

// onChildExit: the new master died; we still hold every listener.
func (a *arbiter) onChildExit(e exit) {
	lg := a.log.Error()
	if a.child.ready {
		lg = a.log.Warn()
	}
	lg.Int("new_master_pid", e.pid).Int("exit_code", e.code()).
		Msg("upgrade: the new master exited; this master keeps serving")
	a.child = nil
}

func (a *arbiter) onPromoted() {
	if err := a.env.promote(); err != nil {
		a.log.Error().Err(err).Msg("cannot take over the pidfile")
	}
	a.log.Info().Msg("upgrade: the old master exited; this master is the main one now")
}

// handedOver reports whether a new master now serves our listeners, so
// this one must leave the socket files and the pidfile to it.
func (a *arbiter) handedOver() bool { return a.child != nil }

func (a *arbiter) addWorker() {
	if a.stop != running {
		return
	}
	a.cur.want++
	if a.next != nil {
		a.next.want++
	}
	a.log.Info().Int("workers", a.cur.want).Msg("one worker more")
	a.nworkersChanged(a.cur.want - 1)
	a.fill()
}

func (a *arbiter) removeWorker() {
	if a.stop != running {
		return
	}
	if a.cur.want <= 1 {
		a.log.Info().Int("workers", a.cur.want).Msg("TTOU ignored: one worker is the minimum")
		return
	}
	a.cur.want--
	if a.next != nil && a.next.want > 1 {
		a.next.want--
	}
	a.log.Info().Int("workers", a.cur.want).Msg("one worker less")
	a.nworkersChanged(a.cur.want + 1)
	a.trim(a.cur, "one worker less (TTOU)")
}

// stopWorkersKeepMaster handles WINCH: the workers stop gracefully and
// the master stays, holding the listeners (the USR2 rollback dance).
// In the foreground of a terminal WINCH means the window was resized,
// so it is ignored there, as Gunicorn ignores it unless daemonized.
func (a *arbiter) stopWorkersKeepMaster() {
	if a.stop != running {
		return
	}
	if a.env.inForeground() {
		a.log.Info().Msg("WINCH ignored: in a terminal's foreground it means a resize")
		return
	}
	a.again = nil
	a.cancelReload()
	old := a.cur.want
	a.cur.want = 0
	a.nworkersChanged(old)
	a.log.Info().Msg("stopping the workers gracefully (WINCH); the master keeps running: HUP or TTIN starts workers again")
	a.trim(a.cur, "WINCH")
}
