package worker

import (
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/handoff"
	"github.com/gowsgi/gowsgi/pyshim"
	"golang.org/x/sys/unix"
)

// The worker's side of the lifecycle contract with the master (Gunicorn's
// worker signals): TERM drains gracefully; INT and QUIT stop at once;
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

// run serves until a signal stops the worker and returns the exit code.
func (s *server) run(ctl *os.File) int {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP,
		syscall.SIGUSR1, syscall.SIGWINCH, handoff.AbortSignal)
	for _, ln := range s.lns {
		s.wg.Add(1)
		go s.acceptLoop(ln)
	}
	if _, err := ctl.WriteString(handoff.MsgReady + "\n"); err != nil {
		s.log.Error().Err(err).Msg("cannot tell the master this worker is ready")
		return handoff.ExitWorkerBootError
	}
	lc := newLifecycle(s, ctl)
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case syscall.SIGTERM:
				s.hooks.stop("")
				s.drain() // logs "graceful stop" once it has begun
				return handoff.ExitOK
			case syscall.SIGINT, syscall.SIGQUIT:
				s.log.Info().Str("signal", sig.String()).Msg("quick stop")
				s.hooks.stop("worker_int")
				s.logUnfinished(statusStopped)
				return handoff.ExitOK
			case syscall.SIGUSR1:
				s.reopenLogs()
			case handoff.AbortSignal:
				s.abortHook()
				lc.abort(time.Now())
			}
		case now := <-lc.ticks:
			lc.tick(now)
		}
	}
}

// lifecycle is the state of run's loop; only that goroutine uses it.
type lifecycle struct {
	srv *server
	ctl *os.File // the control pipe to the master

	ticks     <-chan time.Time // nil when neither --timeout nor --max-requests is on
	beatEvery time.Duration    // 0 = no heartbeats
	lastBeat  time.Time
	// maxCalls is --max-requests plus this worker's jitter; 0 = off.
	maxCalls uint64
	retiring bool // the master was asked for a replacement
}

func newLifecycle(s *server, ctl *os.File) *lifecycle {
	lc := &lifecycle{srv: s, ctl: ctl}
	period := time.Duration(0)
	if s.cfg.Timeout > 0 {
		lc.beatEvery = handoff.HeartbeatInterval(s.cfg.Timeout)
		period = lc.beatEvery
	}
	if s.cfg.MaxRequests > 0 {
		lc.maxCalls = uint64(s.cfg.MaxRequests + rand.IntN(s.cfg.MaxRequestsJitter+1))
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
		age, method, path := lc.srv.oldestCall(now)
		lc.send(handoff.Heartbeat{CallAge: age, Method: method, Path: path}.Line())
		lc.lastBeat = now
	}
	if lc.maxCalls > 0 && !lc.retiring && lc.srv.callsBegun() >= lc.maxCalls {
		lc.retiring = true
		lc.srv.log.Info().Uint64("max_requests", lc.maxCalls).
			Msg("served --max-requests; the master replaces this worker")
		lc.send(handoff.MsgRetire)
	}
}

// abort answers the master's abort signal: log the request that is
// stuck and the Python stack of every thread, then tell the master,
// which kills this process.
func (lc *lifecycle) abort(now time.Time) {
	ev := lc.srv.log.Error()
	if age, method, path := lc.srv.oldestCall(now); age > 0 {
		ev = ev.Str("method", method).Str("path", path).Dur("elapsed", age)
	}
	if stacks, err := pythonStacks(); err != nil {
		ev.Err(err).Msg("worker timeout: cannot read the Python stacks")
	} else {
		ev.Msg("worker timeout: the Python stack of every thread, most recent call first:\n" + stacks)
	}
	lc.srv.logUnfinished(statusTimedOut)
	lc.send(handoff.MsgAborted)
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

// callsBegun is how many Python calls this worker has begun.
func (s *server) callsBegun() uint64 {
	var n uint64
	for _, sl := range s.allSlots {
		n += sl.call.calls.Load()
	}
	return n
}
