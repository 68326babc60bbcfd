package master

import (
	"os"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/config/handoff"
	"github.com/rs/zerolog"
)

type evKind uint8

const (
	evSignal evKind = iota
	evReady         // a worker loaded the app and accepts connections
)

type event struct {
	kind evKind
	sig  syscall.Signal
	pid  int
}

type stopMode uint8

const (
	running stopMode = iota
	graceful
	quick
)

// Respawn policy: a worker that dies is replaced at once, unless workers
// keep dying, when the delay doubles up to maxBackoff. Workers that never
// boot halt the master after maxBootFailures in a row.
const (
	quickStopGrace  = 2 * time.Second
	crashWindow     = 10 * time.Second
	crashesForDelay = 3
	minBackoff      = 100 * time.Millisecond
	maxBackoff      = 10 * time.Second
	maxBootFailures = 5
)

type workerProc struct {
	id      int
	pid     int
	started time.Time
	ready   bool
}

// arbiter is the supervisor state, owned by the goroutine running loop.
type arbiter struct {
	log     zerolog.Logger
	env     *osEffects
	events  chan event
	now     func() time.Time
	want    int // number of workers to keep running
	workers map[int]*workerProc
	nextID  int

	stop     stopMode
	exitCode int
	killAt   <-chan time.Time // nil until a stop has a deadline

	graceful     time.Duration
	crashes      []time.Time // recent unexpected exits, for backoff
	bootFailures int         // consecutive workers that died before ready
	respawnAt    <-chan time.Time
}

func newArbiter(log zerolog.Logger, env *osEffects, events chan event, workers int, gracefulTimeout time.Duration) *arbiter {
	return &arbiter{
		log:      log,
		env:      env,
		events:   events,
		now:      time.Now,
		want:     workers,
		workers:  make(map[int]*workerProc),
		graceful: gracefulTimeout,
	}
}

// loop supervises until the last worker is gone after a stop, and
// returns the master's exit code. Signals arrive on sigs.
func (a *arbiter) loop(sigs <-chan os.Signal) int {
	a.fill()
	for a.stop == running || len(a.workers) > 0 {
		select {
		case s := <-sigs:
			a.onSignal(s.(syscall.Signal))
		case ev := <-a.events:
			a.onEvent(ev)
		case <-a.respawnAt:
			a.respawnAt = nil
			a.fill()
		case <-a.killAt:
			a.killAt = nil
			a.signalAll(syscall.SIGKILL)
		}
	}
	return a.exitCode
}

func (a *arbiter) onEvent(ev event) {
	switch ev.kind {
	case evSignal:
		a.onSignal(ev.sig)
	case evReady:
		if w := a.workers[ev.pid]; w != nil {
			w.ready = true
			a.bootFailures = 0
			a.log.Info().Int("worker", w.id).Int("worker_pid", w.pid).
				Dur("boot", a.now().Sub(w.started)).Msg("worker ready")
		}
	}
}

func (a *arbiter) onSignal(sig syscall.Signal) {
	switch sig {
	case syscall.SIGCHLD:
		for _, e := range a.env.reap() {
			a.onExit(e)
		}
	case syscall.SIGTERM:
		a.beginStop(graceful, "graceful stop")
	case syscall.SIGINT, syscall.SIGQUIT:
		a.beginStop(quick, "quick stop")
	case syscall.SIGTTIN:
		if a.stop == running {
			a.want++
			a.log.Info().Int("workers", a.want).Msg("one worker more")
			a.fill()
		}
	case syscall.SIGTTOU:
		if a.stop == running && a.want > 1 {
			a.want--
			a.log.Info().Int("workers", a.want).Msg("one worker less")
			if w := a.oldest(); w != nil {
				a.env.signal(w.pid, syscall.SIGTERM)
			}
		}
	default:
		a.log.Warn().Str("signal", sig.String()).Msg("signal not handled yet; ignored")
	}
}

// beginStop starts (or hastens) a stop. A second INT/QUIT during a
// graceful stop makes it quick.
func (a *arbiter) beginStop(mode stopMode, msg string) {
	if mode <= a.stop {
		return
	}
	a.stop = mode
	a.respawnAt = nil
	a.log.Info().Int("workers", len(a.workers)).Msg(msg)
	if mode == graceful {
		a.signalAll(syscall.SIGTERM)
		a.killAt = a.env.after(a.graceful)
	} else {
		a.signalAll(syscall.SIGQUIT)
		a.killAt = a.env.after(quickStopGrace)
	}
}

func (a *arbiter) halt(code int, msg string) {
	if a.exitCode == 0 {
		a.exitCode = code
	}
	a.log.Error().Int("exit_code", code).Msg(msg)
	a.beginStop(quick, "stopping")
}

func (a *arbiter) onExit(e exit) {
	w := a.workers[e.pid]
	if w == nil {
		return // an orphan re-parented to us (we are a subreaper)
	}
	delete(a.workers, e.pid)
	lg := a.log.Info()
	if a.stop == running {
		lg = a.log.Warn()
	}
	if e.status.Signaled() {
		lg = lg.Str("signal", e.status.Signal().String())
	} else {
		lg = lg.Int("exit_code", e.status.ExitStatus())
	}
	lg.Int("worker", w.id).Int("worker_pid", w.pid).Msg("worker exited")
	if a.stop != running {
		return
	}
	switch code := e.status.ExitStatus(); {
	case e.status.Exited() && code == handoff.ExitAppLoadError:
		a.halt(handoff.ExitAppLoadError, "the application could not be loaded; stopping (see the traceback above)")
		return
	case e.status.Exited() && code == handoff.ExitWorkerBootError && !w.ready:
		a.halt(handoff.ExitWorkerBootError, "a worker failed to boot; stopping")
		return
	}
	if !w.ready {
		a.bootFailures++
		if a.bootFailures >= maxBootFailures {
			a.halt(handoff.ExitWorkerBootError, "workers keep dying before they are ready; stopping")
			return
		}
	}
	a.scheduleRespawn()
}

// scheduleRespawn replaces dead workers now, or after a growing delay
// when they keep dying.
func (a *arbiter) scheduleRespawn() {
	now := a.now()
	a.crashes = append(a.crashes, now)
	for len(a.crashes) > 0 && now.Sub(a.crashes[0]) > crashWindow {
		a.crashes = a.crashes[1:]
	}
	if len(a.crashes) < crashesForDelay {
		a.fill()
		return
	}
	if a.respawnAt != nil {
		return
	}
	delay := minBackoff << (len(a.crashes) - crashesForDelay)
	delay = min(delay, maxBackoff)
	a.log.Warn().Dur("delay", delay).Msg("workers keep exiting; delaying the respawn")
	a.respawnAt = a.env.after(delay)
}

// fill starts workers until want are running.
func (a *arbiter) fill() {
	for a.stop == running && len(a.workers) < a.want {
		a.nextID++
		pid, err := a.env.spawn(a.nextID)
		if err != nil {
			a.halt(handoff.ExitWorkerBootError, "cannot start a worker: "+err.Error())
			return
		}
		a.workers[pid] = &workerProc{id: a.nextID, pid: pid, started: a.now()}
		a.log.Info().Int("worker", a.nextID).Int("worker_pid", pid).Msg("worker started")
	}
}

func (a *arbiter) oldest() *workerProc {
	var o *workerProc
	for _, w := range a.workers {
		if o == nil || w.id < o.id {
			o = w
		}
	}
	return o
}

func (a *arbiter) signalAll(sig syscall.Signal) {
	for pid := range a.workers {
		a.env.signal(pid, sig)
	}
}
