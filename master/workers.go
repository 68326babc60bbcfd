package master

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/handoff"
	"github.com/rs/zerolog"
)

type workerState uint8

const (
	booting   workerState = iota // started, not ready yet
	serving                      // ready and counted in its generation
	replacing                    // served --max-requests: serves on until its replacement is ready
	stopping                     // sent TERM (or QUIT): finishing its requests
	aborting                     // outlived --timeout: sent SIGABRT, SIGKILL follows
)

// workerProc is one worker process, owned by the arbiter goroutine.
type workerProc struct {
	id, pid int
	gen     int
	state   workerState
	ready   bool // it reported ready once
	killed  bool // SIGKILL sent
	started time.Time
	timeout time.Duration // its generation's --timeout; 0 = off
	// hookAttrs are what pre_fork stored on it, shown again to the hooks
	// that see it (server.WORKERS, child_exit).
	hookAttrs json.RawMessage
	// killAt, for a stopping or aborting worker, is when it gets SIGKILL.
	killAt time.Time

	heardAt time.Time         // its last heartbeat (or ready)
	hb      handoff.Heartbeat // its last heartbeat
	// exiting: its requests are done and it shuts down, sending no more
	// heartbeats (handoff.MsgExiting).
	exiting bool
	// retired: stopWorker stopped it, the server running on. stuck: it
	// asked for that with a call that did not stop (--request-timeout),
	// so it gets --graceful-timeout rather than --timeout to finish.
	retired, stuck bool
	// termedAt is when it said it got a TERM not from the master, until
	// the master acts on it (onTermed).
	termedAt time.Time
	// signalTID is the thread its abort and stack signals go to
	// (signalApp); 0 until the worker names it.
	signalTID int
}

// active workers count towards their generation's size.
func (w *workerProc) active() bool { return w.state == booting || w.state == serving }

// byID lists the workers oldest first, for deterministic iteration.
func (a *arbiter) byID() []*workerProc {
	ws := make([]*workerProc, 0, len(a.workers))
	for _, w := range a.workers {
		ws = append(ws, w)
	}
	slices.SortFunc(ws, func(x, y *workerProc) int { return x.id - y.id })
	return ws
}

func (a *arbiter) count(g *generation, match func(*workerProc) bool) int {
	n := 0
	for _, w := range a.workers {
		if w.gen == g.n && match(w) {
			n++
		}
	}
	return n
}

func isServing(w *workerProc) bool { return w.state == serving }

// fill starts workers until each generation has its size, unless a
// stop is under way or a respawn is being delayed.
func (a *arbiter) fill() {
	if a.stop != running {
		return
	}
	if a.respawnAt.IsZero() {
		a.fillGen(a.cur)
	}
	if a.next != nil {
		a.fillGen(a.next)
	}
}

func (a *arbiter) fillGen(g *generation) {
	for a.stop == running && a.count(g, (*workerProc).active) < g.want {
		a.nextID++
		r, ok := a.hookReply(hookCall{Hook: "pre_fork", Worker: &hookWorker{PPID: os.Getpid(), Age: a.nextID, Alive: true}})
		if !ok {
			return
		}
		var attrs json.RawMessage // what pre_fork stored on the worker, which it starts with
		if r != nil {
			attrs = r.WorkerAttrs
		}
		pid, err := a.env.spawn(a.nextID, g.n, g.cfg, attrs)
		if errors.Is(err, errStopDuringImport) {
			// A stop signal cut the --preload import short: the loop
			// takes it next; no failure to count or retry.
			a.log.Info().Msg("the app's import was cut short by a stop signal")
			return
		}
		if err != nil {
			a.log.Error().Err(err).Int("worker", a.nextID).Msg("cannot start a worker")
			if g == a.next {
				a.failReload("a new worker could not be started")
			} else {
				a.noteBootFailure(handoff.ExitWorkerBootError)
				a.scheduleRespawn()
			}
			return
		}
		now := a.env.now()
		a.workers[pid] = &workerProc{id: a.nextID, pid: pid, gen: g.n, started: now, heardAt: now,
			timeout: g.cfg.Timeout, hookAttrs: attrs}
		a.log.Info().Int("worker", a.nextID).Int("worker_pid", pid).Int("generation", g.n).Msg("worker started")
	}
}

// trim stops the oldest active workers of g beyond its size.
func (a *arbiter) trim(g *generation, why string) {
	for _, w := range a.byID() {
		if a.count(g, (*workerProc).active) <= g.want {
			return
		}
		if w.gen == g.n && w.active() {
			a.stopWorker(w, why)
		}
	}
}

// stopWorker retires a worker (a reload, TTOU, --max-requests, a
// replacement): it stops accepting, finishes its requests and exits.
// Its requests may take as long as any request may, --timeout (a call
// that outlives it is aborted as ever; with --timeout 0, as long as they
// take), and its shutdown once they are done (evExiting)
// --graceful-timeout; SIGKILL after that. Gunicorn bounds a retiring
// worker's requests by --timeout alone (sync) or not at all (gthread):
// --graceful-timeout is for a stop of the whole server, and cutting a
// retiring worker's requests at it broke every long request a
// --max-requests recycle met.
func (a *arbiter) stopWorker(w *workerProc, why string) {
	a.env.signal(w.pid, gracefulStopSignal(w))
	w.state, w.retired = stopping, true
	now := a.env.now()
	switch {
	case w.stuck || !w.ready:
		w.killAt = now.Add(a.cur.cfg.GracefulTimeout)
	case w.timeout > 0:
		w.killAt = now.Add(max(a.cur.cfg.GracefulTimeout, w.timeout))
	default:
		// --timeout 0: no request is ever cut, as under Gunicorn; the
		// shutdown still has --graceful-timeout (evExiting).
		w.killAt = time.Time{}
	}
	a.log.Info().Int("worker", w.id).Int("worker_pid", w.pid).Str("reason", why).Msg("stopping worker")
}

// kill sends SIGKILL once.
func (a *arbiter) kill(w *workerProc) {
	if w.killed {
		return
	}
	w.killed = true
	w.killAt = time.Time{}
	a.env.signal(w.pid, syscall.SIGKILL)
}

// gracefulStopSignal is the master's graceful stop for w. A ready
// worker takes a TERM as coming from elsewhere (onTermed); one still
// booting has no handler for GracefulStopSignal yet, and TERM ends it.
func gracefulStopSignal(w *workerProc) syscall.Signal {
	if w.ready {
		return handoff.GracefulStopSignal
	}
	return syscall.SIGTERM
}

// onTermed: a worker got TERM from someone else, and serves on until
// told to stop. Sent to that worker alone, the TERM means a graceful
// stop of that worker (which is then replaced), as in Gunicorn. When
// the whole process group or cgroup got it (systemd's default KillMode,
// Heroku), the master is stopping too and tells every worker once the
// accept queues are empty; stopping the worker at once would reset the
// connections still queued. Which of the two it was is known only once
// the master's own TERM could have come: the workers' messages often
// arrive first. So a TERM counts as the worker's alone when termedGrace
// passes with the master still running (checkTermed).
func (a *arbiter) onTermed(pid int) {
	w := a.workers[pid]
	switch {
	case w == nil || w.state == aborting:
	case w.state == stopping:
		a.env.signal(w.pid, gracefulStopSignal(w))
	case w.termedAt.IsZero():
		w.termedAt = a.env.now()
	}
}

// checkTermed stops, once termedGrace has passed, a worker that got a
// TERM of its own (onTermed); it reports whether it acted on w.
func (a *arbiter) checkTermed(w *workerProc, now time.Time) bool {
	if w.termedAt.IsZero() || now.Before(w.termedAt.Add(termedGrace)) {
		return false
	}
	w.termedAt = time.Time{}
	if a.stop == running && !(a.ops != nil && a.ops.delaying) && (w.state == serving || w.state == replacing) {
		a.stopWorker(w, "it was sent TERM")
	}
	return true
}

// signalAll sends sig to every worker, which all count as stopping;
// SIGTERM means each one's graceful stop signal.
func (a *arbiter) signalAll(sig syscall.Signal) {
	for _, w := range a.byID() {
		if sig == syscall.SIGQUIT {
			a.quit(w)
			continue
		}
		if sig == syscall.SIGTERM {
			a.env.signal(w.pid, gracefulStopSignal(w))
		} else {
			a.env.signal(w.pid, sig)
		}
		if w.state != aborting {
			w.state = stopping
		}
	}
}

// quit stops a worker at once: QUIT, or SIGKILL for one still booting,
// which has no handler yet and would answer QUIT with a Go stack dump.
func (a *arbiter) quit(w *workerProc) {
	if w.state != aborting {
		w.state = stopping
	}
	if !w.ready {
		a.kill(w)
		return
	}
	a.env.signal(w.pid, syscall.SIGQUIT)
}

func (a *arbiter) onReady(pid int) {
	w := a.workers[pid]
	if w == nil || w.ready {
		return
	}
	now := a.env.now()
	w.ready, w.heardAt = true, now
	a.bootFailures = 0
	a.log.Info().Int("worker", w.id).Int("worker_pid", w.pid).Dur("boot", now.Sub(w.started)).Msg("worker ready")
	if w.state != booting {
		return // stopped or aborted while it booted
	}
	w.state = serving
	switch {
	case a.next != nil && w.gen == a.next.n:
		a.next.everReady = true
		a.maybeCommit()
	case w.gen == a.cur.n:
		a.cur.everReady = true
		a.releaseReplaced()
		if !a.announced && a.count(a.cur, isServing) >= a.cur.want {
			a.announced = true
			a.env.ready()
		}
	}
}

// onRetire: the worker served --max-requests. Its replacement starts
// now; it serves on until the replacement is ready.
func (a *arbiter) onRetire(pid int, stuck bool) {
	w := a.workers[pid]
	if w == nil || w.state != serving {
		return
	}
	w.state, w.stuck = replacing, stuck
	msg := "worker reached --max-requests; starting its replacement"
	if stuck {
		msg = "worker has a call that did not stop at --request-timeout; starting its replacement"
	}
	a.log.Info().Int("worker", w.id).Int("worker_pid", w.pid).Msg(msg)
	a.fill()
	a.releaseReplaced()
}

// releaseReplaced stops the replacing workers once the current
// generation has its size without them.
func (a *arbiter) releaseReplaced() {
	if a.count(a.cur, isServing) < a.cur.want {
		return
	}
	for _, w := range a.byID() {
		if w.gen == a.cur.n && w.state == replacing {
			a.stopWorker(w, "its replacement is ready")
		}
	}
}

func (a *arbiter) onExit(e exit) {
	w := a.workers[e.pid]
	if w == nil {
		if a.child != nil && e.pid == a.child.pid {
			a.onChildExit(e)
		}
		return // an orphan re-parented to us (we are a subreaper)
	}
	delete(a.workers, e.pid)
	expected := a.stop != running || w.state == stopping || w.state == aborting
	lg := a.log.WithLevel(exitLevel(e, expected))
	if e.status.Signaled() {
		lg = lg.Str("signal", e.status.Signal().String())
		if w.killed {
			lg = lg.Str("killed_by", "master") // not the OOM killer
		}
	} else {
		lg = lg.Int("exit_code", e.status.ExitStatus())
	}
	lg.Int("worker", w.id).Int("worker_pid", w.pid).Msg(errorlog.MsgWorkerExited)
	code := e.code()
	a.hook(hookCall{Hook: "child_exit", Worker: &hookWorker{PID: &e.pid, PPID: os.Getpid(), Age: w.id, ExitCode: &code,
		Attrs: w.hookAttrs}})
	switch {
	case a.stop != running:
	case a.next != nil && w.gen == a.next.n && !w.ready:
		a.failReload(exitReason(e))
	case expected:
		a.fill()
	case !w.ready && a.bootFailed(w, e):
	default:
		a.scheduleRespawn()
	}
}

// bootFailed accounts for a worker of a serving generation that died
// before it was ready, and reports whether the master halts for it.
func (a *arbiter) bootFailed(w *workerProc, e exit) bool {
	code := e.code()
	if w.gen == a.cur.n && !a.cur.everReady {
		switch code {
		case handoff.ExitAppLoadError:
			a.halt(code, "the application could not be loaded; stopping (see the traceback above)")
			return true
		case handoff.ExitWorkerBootError:
			a.halt(code, "a worker failed to boot; stopping")
			return true
		}
	}
	return a.noteBootFailure(code)
}

// noteBootFailure counts a worker that never got ready and halts the
// master when too many did in a row.
func (a *arbiter) noteBootFailure(code int) bool {
	a.bootFailures++
	if a.bootFailures < maxBootFailures {
		return false
	}
	if code != handoff.ExitAppLoadError {
		code = handoff.ExitWorkerBootError
	}
	a.halt(code, "workers keep failing to boot; stopping")
	return true
}

// scheduleRespawn replaces dead workers now, or after a growing delay
// when they keep dying.
func (a *arbiter) scheduleRespawn() {
	now := a.env.now()
	a.crashes = append(a.crashes, now)
	for len(a.crashes) > 0 && now.Sub(a.crashes[0]) > crashWindow {
		a.crashes = a.crashes[1:]
	}
	if len(a.crashes) < crashesForDelay {
		a.fill()
		return
	}
	if !a.respawnAt.IsZero() {
		return
	}
	delay := min(minBackoff<<min(len(a.crashes)-crashesForDelay, 10), maxBackoff)
	a.log.Warn().Dur("delay", delay).Msg("workers keep exiting; delaying the respawn")
	a.respawnAt = now.Add(delay)
}

// exitLevel is the level of a worker's exit in the log, and so in the
// StatsD log counters: info when the master expected it (a stop, a
// timeout's kill), else Gunicorn main's (arbiter.reap_workers): an
// error for a non-zero exit code or a SIGKILL (perhaps the OOM killer),
// info for a SIGTERM, a warning for any other signal or a clean exit.
func exitLevel(e exit, expected bool) zerolog.Level {
	switch {
	case expected:
		return zerolog.InfoLevel
	case e.status.Signaled() && e.status.Signal() == syscall.SIGKILL:
		return zerolog.ErrorLevel
	case e.status.Signaled() && e.status.Signal() == syscall.SIGTERM:
		return zerolog.InfoLevel
	case !e.status.Signaled() && e.status.ExitStatus() != 0:
		return zerolog.ErrorLevel
	}
	return zerolog.WarnLevel
}

func exitReason(e exit) string {
	switch code := e.code(); {
	case e.status.Signaled():
		return "a new worker was killed by " + e.status.Signal().String() + " before it was ready"
	case code == handoff.ExitAppLoadError:
		return "the application could not be loaded (see the traceback above)"
	default:
		return "a new worker exited before it was ready"
	}
}
