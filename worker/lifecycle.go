package worker

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/engine"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/handoff"
	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// The worker's side of the lifecycle contract with the master (Gunicorn's
// worker signals): the master's handoff.GracefulStopSignal drains
// gracefully, and a TERM from elsewhere asks the master for it
// (askToStop); INT and QUIT stop at once;
// USR1 reopens the log files; ABRT, sent by the master when an app call
// outlived --timeout, logs the Python stack of every thread before the
// master kills the worker. Meanwhile the worker reports its liveness and,
// after --max-requests, asks to be replaced.

const (
	// maxRequestsCheck is how often the request count is compared with
	// --max-requests: a busy worker may serve a little more.
	maxRequestsCheck = 100 * time.Millisecond
	// maxStacksDump bounds the Python stacks logged on a timeout.
	maxStacksDump = 1 << 20
)

// process is the worker around its engine: what run's loop, the
// reporter and USR1 need.
type process struct {
	cfg  *config.Config
	log  zerolog.Logger
	elog *errorlog.Log
	srv  *engine.Server
	// calls is what liveness and --max-requests read: srv, or for an
	// ASGI worker its event loop's stall (asgiworker.go).
	calls calls
	hooks *hooks // nil when the config file defines no worker hook
	ctl   *os.File
	// quick: run ended with a quick stop (INT, QUIT), which the master
	// gives 2 s before it kills the worker.
	quick bool
}

// run serves until a signal stops the worker and returns the exit code.
func (p *process) run() int {
	sigs := make(chan os.Signal, 8)
	// SIGPIPE, handled, makes a write to a log reader that went away fail
	// with EPIPE instead of ending the worker (master/run.go).
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP,
		syscall.SIGUSR1, syscall.SIGWINCH, handoff.AbortSignal, syscall.SIGPIPE, handoff.GracefulStopSignal)
	p.srv.Serve()
	if _, err := p.ctl.WriteString(handoff.SignalThreadLine(signalThread()) + "\n" + handoff.MsgReady + "\n"); err != nil {
		p.log.Error().Err(err).Msg("cannot tell the master this worker is ready")
		return handoff.ExitWorkerBootError
	}
	lc := newLifecycle(p.cfg, p.log, p.calls, p.ctl)
	reclaim := time.NewTicker(reclaimEvery) // signals.go
	defer reclaim.Stop()
	// drained is closed once a graceful stop has finished the requests;
	// nil until one begins. Until then the loop goes on: heartbeats, so
	// that --timeout still bounds the calls a stopping worker finishes,
	// and the abort that follows.
	var drained <-chan struct{}
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case syscall.SIGTERM:
				if drained != nil || lc.askToStop(p.cfg.GracefulTimeout+p.cfg.ShutdownDelay) {
					continue
				}
				drained = p.stopGracefully(lc)
			case handoff.GracefulStopSignal:
				lc.answered()
				if drained == nil {
					drained = p.stopGracefully(lc)
				}
			case syscall.SIGINT, syscall.SIGQUIT:
				runAppSignalHandler(p.log, sig.(syscall.Signal))
				p.log.Info().Str("signal", sig.String()).Msg("quick stop")
				p.hooks.stop("worker_int")
				p.srv.LogUnfinished(engine.StatusStopped)
				p.quick = true
				lc.send(handoff.MsgExiting)
				return handoff.ExitOK
			case syscall.SIGUSR1:
				p.reopenLogs()
			case handoff.AbortSignal:
				p.hooks.abortHook()
				lc.abort(time.Now())
				p.srv.LogUnfinished(engine.StatusTimedOut)
				p.hooks.exitAfterAbort()
				lc.send(handoff.MsgAborted)
			}
		case now := <-lc.ticks:
			lc.tick(now)
		case <-reclaim.C:
			reclaimSignals(p.log)
			p.srv.ReleaseAfterBurst() // engine/release.go
		case <-p.hooks.retireAsked():
			lc.retire()
		case <-lc.unanswered:
			lc.answered()
			if drained == nil {
				p.log.Warn().Msg("the master did not answer this worker's TERM in time; stopping")
				drained = p.stopGracefully(lc)
			}
		case <-lc.masterChecks():
			if lc.masterGone() {
				lc.answered()
				if drained == nil {
					p.log.Warn().Msg("the master is gone; stopping")
					drained = p.stopGracefully(lc)
				}
			}
		case <-drained:
			lc.send(handoff.MsgExiting)
			return handoff.ExitOK
		}
	}
}

// stopGracefully stops accepting and finishes the requests under way;
// the returned channel is closed when they are done. The app's Python
// handler of TERM runs first, where Gunicorn's worker would have run it.
func (p *process) stopGracefully(lc *lifecycle) <-chan struct{} {
	runAppSignalHandler(p.log, syscall.SIGTERM)
	p.hooks.stop("")
	lc.retiring = true // a stopping worker asks for no replacement
	done := make(chan struct{})
	go func() {
		p.srv.Drain() // logs "graceful stop" once it has begun
		close(done)
	}()
	return done
}

// calls is what the lifecycle reads of the calls into the app:
// engine.Server, or an ASGI worker's (asgiCalls: its event loop's stall,
// with the request it runs when the loop can tell). OldestStuckCall's
// ok is false when no call is in flight.
type calls interface {
	OldestStuckCall(now time.Time) (call engine.StuckCall, ok bool)
	CallsBegun() uint64
}

// lifecycle is the state of run's loop; only that goroutine uses it.
type lifecycle struct {
	log   zerolog.Logger
	calls calls
	ctl   *os.File // the control pipe to the master

	ticks     <-chan time.Time // nil when neither --timeout nor --max-requests is on
	beatEvery time.Duration    // 0 = no heartbeats
	lastBeat  time.Time
	// maxCalls is --max-requests plus this worker's jitter; 0 = off.
	maxCalls uint64
	retiring bool // the master was asked for a replacement
	// unanswered fires when the master has not answered a TERM this
	// worker forwarded (askToStop); nil until then. While it waits,
	// masterCheck ticks (nil otherwise) to see whether the master is
	// still this worker's parent, master.
	unanswered  <-chan time.Time
	masterCheck *time.Ticker
	master      int
}

func newLifecycle(cfg *config.Config, log zerolog.Logger, c calls, ctl *os.File) *lifecycle {
	lc := &lifecycle{log: log, calls: c, ctl: ctl, master: os.Getppid()}
	period := time.Duration(0)
	if cfg.Timeout > 0 {
		lc.beatEvery = handoff.HeartbeatInterval(cfg.Timeout)
		period = lc.beatEvery
	}
	if cfg.MaxRequests > 0 {
		lc.maxCalls = uint64(cfg.MaxRequests + rand.IntN(cfg.MaxRequestsJitter+1))
		if period == 0 || period > maxRequestsCheck {
			period = maxRequestsCheck
		}
	}
	if period > 0 {
		lc.ticks = time.NewTicker(period).C
	}
	return lc
}

// send writes one control line. A master that is gone does not read;
// the worker learns of it from its parent-death signal, not from here.
func (lc *lifecycle) send(line string) {
	lc.ctl.WriteString(line + "\n")
}

func (lc *lifecycle) tick(now time.Time) {
	if lc.beatEvery > 0 && now.Sub(lc.lastBeat) >= lc.beatEvery-lc.beatEvery/8 {
		call, _ := lc.calls.OldestStuckCall(now)
		lc.send(handoff.Heartbeat{CallAge: call.Age, Method: call.Method, Path: call.Path}.Line())
		lc.lastBeat = now
	}
	if lc.maxCalls > 0 && !lc.retiring && lc.calls.CallsBegun() >= lc.maxCalls {
		lc.log.Info().Uint64("max_requests", lc.maxCalls).
			Msg("served --max-requests; the master replaces this worker")
		lc.retire()
	}
}

// askToStop answers a TERM, which never comes from the master (its
// graceful stop is handoff.GracefulStopSignal), by telling the master
// and serving on until it answers: within a second when the TERM was
// this worker's alone, after the accept queues are empty when the
// master got it too (a whole process group or cgroup signalled at once). It
// reports false when the worker should stop now instead: a second TERM,
// or no master to tell (the pipe is broken); and the answer is awaited
// for at most bound.
func (lc *lifecycle) askToStop(bound time.Duration) bool {
	if lc.unanswered != nil {
		return false
	}
	if _, err := lc.ctl.WriteString(handoff.MsgTermed + "\n"); err != nil {
		return false
	}
	lc.unanswered = time.After(bound)
	lc.masterCheck = time.NewTicker(masterCheckEvery)
	lc.log.Info().Msg("TERM: serving on until the master, once no connection is queued, says to stop")
	return true
}

// masterCheckEvery is how often a worker waiting for the master's answer
// to a forwarded TERM looks whether the master is still there.
//
// The TERM may be this worker's parent-death signal: Linux sends it when
// the master's thread that started the worker exits, which, for a
// master killed with SIGKILL, can be while its other threads still hold
// the control pipe open, so the message goes through and no answer will
// ever come. Once the whole master is gone the worker has another
// parent. TestUnprivilegedWorkersDieWithTheirMaster failed once in make
// test that way: a worker of a SIGKILLed master logged that it waited
// for the master's answer, and still ran 15 s later (the bound is
// --graceful-timeout, 30 s by default); the later parent-death signals
// that should have made it a second TERM did not come, or came merged
// with the first.
const masterCheckEvery = 100 * time.Millisecond

// masterGone reports whether the master this worker was started by is
// no longer its parent.
func (lc *lifecycle) masterGone() bool { return os.Getppid() != lc.master }

// answered ends the wait for the master's answer to a forwarded TERM.
func (lc *lifecycle) answered() {
	lc.unanswered = nil
	if lc.masterCheck != nil {
		lc.masterCheck.Stop()
		lc.masterCheck = nil
	}
}

// masterChecks is masterCheck's channel, nil when there is none.
func (lc *lifecycle) masterChecks() <-chan time.Time {
	if lc.masterCheck == nil {
		return nil
	}
	return lc.masterCheck.C
}

// retire asks the master, once, to replace this worker: it starts a new
// one, then stops this one gracefully.
func (lc *lifecycle) retire() {
	if !lc.retiring {
		lc.retiring = true
		lc.send(handoff.MsgRetire)
	}
}

// abort answers the master's abort signal: log the request that is
// stuck and the Python stack of every thread; run then logs the
// unfinished requests and tells the master, which kills this process.
//
// --timeout counts from when the request took its Python thread (the
// master's view: a thread that has not come back), so the call may not
// have reached Python code yet: waiting for the GIL that another thread
// holds, or not yet scheduled on a starved machine. The log then says
// so, with the request's thread marked in the dump (markStuckThread),
// rather than leave a "<no Python frame>" to puzzle over. Where the call
// is gets read after the dump: a call that moved on meanwhile (into
// Python, on the thread it keeps for the whole request) is still found
// in it.
func (lc *lifecycle) abort(now time.Time) {
	stacks, err := pythonStacks()
	call, named := lc.calls.OldestStuckCall(now)
	ev := lc.log.Error()
	if call.Method != "" {
		ev = ev.Str("method", call.Method).Str("path", call.Path)
	}
	if call.Age > 0 {
		ev = ev.Dur("elapsed", call.Age)
	}
	if err != nil {
		ev.Err(err).Msg("worker timeout: cannot read the Python stacks")
		return
	}
	msg := "worker timeout: the Python stack of every thread, most recent call first"
	if named {
		var where string
		stacks, where = markStuckThread(stacks, call)
		ev = ev.Str("call", where)
		if call.Place.Thread != 0 {
			ev = ev.Str("thread", fmt.Sprintf("0x%016x", call.Place.Thread))
		}
		switch where {
		case callInPython:
		case callLost:
			msg += "; the request's thread is not in the dump"
		default:
			msg += "; the request's call was not in Python code (" + where + ")"
		}
	}
	ev.Msg(msg + ":\n" + stacks)
}

// pythonStacks dumps every Python thread's stack into a memory file and
// reads it back, so it is logged as one event.
func pythonStacks() (string, error) {
	fd, err := unix.MemfdCreate("gowsgi-stacks", unix.MFD_CLOEXEC)
	if err != nil {
		return "", err
	}
	f := os.NewFile(uintptr(fd), "gowsgi-stacks")
	defer f.Close()
	if err := pyshim.DumpTracebacks(f.Fd()); err != nil {
		return "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxStacksDump))
	return string(b), err
}
