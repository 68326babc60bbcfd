package master

import (
	"strconv"
	"syscall"
	"time"
)

// beginStop starts (or hastens) a stop. A second INT/QUIT during a
// graceful stop makes it quick.
//
// A graceful stop must not reset the connections the kernel has already
// queued: the listeners first stop taking new connections and the
// workers drain the queues (see quiesce); only then are the workers
// told to stop, also those that got the TERM themselves (onTermed).
// After a USR2 upgrade the new master shares the listeners and serves
// the queues, so the workers are told at once.
func (a *arbiter) beginStop(mode stopMode, why string) {
	if mode <= a.stop {
		return
	}
	first := a.stop == running
	a.stop = mode
	a.respawnAt = time.Time{}
	a.next, a.again = nil, nil // a booting generation stops with the rest
	if first {
		if a.child != nil {
			// systemd follows the new master instead of stopping the
			// service when we exit (Gunicorn #2856).
			a.env.notify("MAINPID=" + strconv.Itoa(a.child.pid))
		} else {
			a.env.notify("STOPPING=1")
		}
	}
	now := a.env.now()
	a.log.Info().Int("workers", len(a.workers)).Msg(why)
	if mode == quick {
		a.stopDeadline = now.Add(quickStopGrace)
		a.signalAll(syscall.SIGQUIT)
		return
	}
	a.stopDeadline = now.Add(a.cur.cfg.GracefulTimeout)
	if a.child != nil {
		a.signalAll(syscall.SIGTERM)
		return
	}
	accepting := false
	for _, w := range a.workers {
		accepting = accepting || w.ready && (w.state == serving || w.state == replacing)
	}
	a.quiesced = a.env.quiesce(accepting, a.cur.cfg.GracefulTimeout/2)
}

// onQuiesced: no new connection can queue any more and the queues are
// empty; the workers may stop.
func (a *arbiter) onQuiesced() {
	if a.stop == graceful {
		a.signalAll(syscall.SIGTERM)
	}
}

// halt stops the master with an exit code that tells its supervisor to
// give up rather than restart it in a loop.
func (a *arbiter) halt(code int, msg string) {
	if a.exitCode == 0 {
		a.exitCode = code
	}
	a.log.Error().Int("exit_code", code).Msg(msg)
	a.beginStop(quick, "stopping")
}
