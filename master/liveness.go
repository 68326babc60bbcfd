package master

import (
	"time"

	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/handoff"
	"github.com/rs/zerolog"
)

// Liveness. A worker reports, every handoff.HeartbeatInterval, how long
// its oldest Python call has run; the report comes from a goroutine that
// runs even while the app holds the GIL. The master declares the worker
// stuck when that call (or, if reports stop altogether, the silence)
// outlives --timeout. It then logs the request, sends SIGABRT so the
// worker logs the Python stack of every thread, starts a replacement,
// and SIGKILLs the stuck worker once it has answered or after
// abortGrace.

// bootTimeout is how long a worker may take to load the app.
func bootTimeout(timeout time.Duration) time.Duration { return max(timeout, minBootTimeout) }

// deadline is the next moment something must happen to w; zero if none.
func (w *workerProc) deadline() time.Time {
	d := w.stateDeadline()
	if t := w.termedAt.Add(termedGrace); !w.termedAt.IsZero() && (d.IsZero() || t.Before(d)) {
		d = t
	}
	return d
}

// stateDeadline is w's deadline in its state (booting, stuck, stopping).
func (w *workerProc) stateDeadline() time.Time {
	switch {
	case w.killed:
		return time.Time{}
	case w.state == aborting:
		return w.killAt
	case w.state == stopping:
		// --timeout still bounds the calls a stopping worker finishes,
		// as Gunicorn's arbiter times every worker: a call hung in a
		// worker a HUP or --max-requests retired ran on until
		// --graceful-timeout. Once they are done, its shutdown (which
		// sends no heartbeats) has --graceful-timeout alone. killAt is
		// zero in a stop of the whole server (its deadline is the
		// arbiter's).
		if d := w.stuckAt(); w.ready && !w.exiting && !d.IsZero() && (w.killAt.IsZero() || d.Before(w.killAt)) {
			return d
		}
		return w.killAt
	case w.state == booting:
		if w.timeout <= 0 {
			return time.Time{}
		}
		return w.started.Add(bootTimeout(w.timeout))
	}
	return w.stuckAt()
}

// stuckAt is when a ready worker's oldest call (or its silence) outlives
// --timeout; zero when the timeout is off.
func (w *workerProc) stuckAt() time.Time {
	if w.timeout <= 0 {
		return time.Time{}
	}
	silence := w.heardAt.Add(w.timeout)
	if w.hb.CallAge > 0 {
		if call := w.heardAt.Add(w.timeout - w.hb.CallAge); call.Before(silence) {
			return call
		}
	}
	return silence
}

// lateWake is how late the arbiter may wake for a deadline before it
// takes itself to have been stopped or starved (SIGSTOP, a debugger, a
// frozen VM, a machine out of CPU). The workers' heartbeats of that time
// then still wait unread in their pipes, and a silence judged without
// them would kill every healthy worker at once: Gunicorn's workers touch
// a file the master reads whenever it runs, so a paused master finds
// them alive. judgeGrace is how long the arbiter then reads heartbeats
// (a worker sends one at least every second) before it judges any
// worker's deadlines again; a worker that stays silent through it is
// judged as ever.
const (
	lateWake   = time.Second
	judgeGrace = 2 * time.Second
)

// onWake runs the deadlines of a wake timer set for due.
func (a *arbiter) onWake(due time.Time) {
	now := a.env.now()
	if late := now.Sub(due); !due.IsZero() && late > lateWake {
		a.judgeAfter = now.Add(judgeGrace)
		a.log.Warn().Dur("late", late).Dur("grace", judgeGrace).
			Msg("the master ran late (stopped or starved): the workers are judged again once their heartbeats are read")
	}
	a.onTick()
}

// checkWorkers acts on every deadline that has come.
func (a *arbiter) checkWorkers(now time.Time) {
	if now.Before(a.judgeAfter) {
		return // after the master ran late: onWake
	}
	for _, w := range a.byID() {
		if a.checkTermed(w, now) {
			continue // its next deadline, if it has come, is the next tick's
		}
		d := w.stateDeadline()
		if d.IsZero() || now.Before(d) {
			continue
		}
		lg := a.log.Error().Int("worker", w.id).Int("worker_pid", w.pid)
		switch w.state {
		case booting:
			lg.Dur("timeout", bootTimeout(w.timeout)).Msg("worker did not boot in time; killing it")
			a.kill(w)
		case serving, replacing:
			a.abort(w, now)
		case stopping:
			if w.killAt.IsZero() || now.Before(w.killAt) { // stuck, before --graceful-timeout
				a.abort(w, now)
				continue
			}
			if w.hb.Method != "" {
				lg = lg.Str("method", w.hb.Method).Str("path", w.hb.Path)
			}
			if w.retired && w.ready && !w.stuck && !w.exiting {
				lg.Msg("retiring worker did not finish its requests within the longer of --timeout and --graceful-timeout; killing it")
			} else {
				lg.Msg("worker outlived --graceful-timeout; killing it")
			}
			a.kill(w)
		case aborting:
			a.kill(w)
		}
	}
}

// abort handles a stuck worker: log what it was doing, ask it for its
// Python stacks, and replace it.
func (a *arbiter) abort(w *workerProc, now time.Time) {
	silent := now.Sub(w.heardAt)
	// Critical, as Gunicorn logs it (and counts it: gunicorn.log.critical).
	lg := a.log.WithLevel(zerolog.FatalLevel).Int("worker", w.id).Int("worker_pid", w.pid).Dur("timeout", w.timeout)
	if w.hb.CallAge > 0 {
		if w.hb.Method != "" { // an ASGI loop running nothing of a request names none
			lg = lg.Str("method", w.hb.Method).Str("path", w.hb.Path)
		}
		lg.Dur("elapsed", w.hb.CallAge+silent).
			Msg(errorlog.MsgTimeoutRequest)
	} else {
		lg.Dur("silent", silent).Msg(errorlog.MsgTimeoutSilent)
	}
	a.signalApp(w, handoff.AbortSignal)
	w.state = aborting
	w.killAt = now.Add(abortGrace)
	a.fill()
}
