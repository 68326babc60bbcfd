package pyshim

/*
#include "asgi.h"
*/
import "C"

import "time"

// What the worker's liveness reports and its --timeout log read of a
// Loop: how long it has taken no event, and which request it runs.

// Stalled reports how long the oldest event the loop has not yet taken
// has waited: the age of the loop's current callback, when an app
// blocks it (a CPU-bound handler, a time.sleep). Liveness and --timeout
// are computed from it as from a WSGI call's age. When nothing waits it
// queues a no-op event, so that a loop blocked while idle from Go's
// side shows up at the next call: call it periodically (the worker's
// reporter does, every second).
func (l *Loop) Stalled() time.Duration { return l.lag(0) }

// Lag is Stalled for the accept gate and the worker's stats. With
// probe (the gate, asked for every connection), when nothing waits it
// queues the no-op at most every lagProbeEvery, so a loop blocked while
// idle (a background task's CPU work, a slow timer callback) shows as
// behind within that time plus the gate's mark, not only at the
// reporter's next no-op a second later. Without, it queues nothing: the
// stats, read four times a second, do not wake an idle loop.
func (l *Loop) Lag(probe bool) time.Duration {
	if !probe {
		return l.lag(-1)
	}
	return l.lag(lagProbeEvery)
}

// lagProbeEvery bounds how often Lag queues a no-op while nothing
// waits: an idle worker accepting a trickle of connections wakes its
// loop at most this often for it.
const lagProbeEvery = 5 * time.Millisecond

// lag returns the age of the oldest event not yet taken, counting those
// posted and not yet handed to C. When none waits it queues a no-op,
// unless one was queued less than every ago, or every is negative.
func (l *Loop) lag(every time.Duration) time.Duration {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0
	}
	var empty C.int
	age := time.Duration(C.gw_aq_stalled(l.q, &empty))
	probe := false
	if len(l.pend) > 0 {
		age = max(age, time.Since(l.pendSince))
	} else if empty != 0 && every >= 0 {
		now := time.Now()
		probe = every == 0 || now.Sub(l.probedAt) >= every
		if probe {
			l.probedAt = now
		}
	}
	l.mu.Unlock()
	if probe {
		l.post(0, C.GW_IN_PING, 0, 0, nil)
	}
	return age
}

// Thread is the loop's OS thread as the traceback dump names it
// ("Thread 0x..."), for the --timeout log to mark.
func (l *Loop) Thread() uint64 { return l.thread }

// Running returns the open Conn the loop runs code for, for the
// --timeout log of a loop that takes no event: the Conn whose task it
// runs, or whose task started the one it runs (a middleware's task
// group, asyncio.wait_for), as the context of a request's task names
// it and tasks copy their creator's context. nil when it runs nothing
// of an open Conn (a lifespan task, a task made with a context of its
// own). It asks the loop under the GIL, which a loop running Python
// code gives up within the switch interval, and one blocked in a C call
// that keeps it only when the call returns: it waits at most wait, and
// while an earlier question still waits for the GIL it waits for that
// one's answer rather than ask again.
func (l *Loop) Running(wait time.Duration) *Conn {
	l.mu.Lock()
	q := l.asking
	if q == nil {
		q = &loopQuestion{answered: make(chan struct{})}
		l.asking = q
		go func() {
			var id C.uint64_t
			if C.gw_asgi_running(&id) != 0 {
				id = 0
			}
			q.id = uint64(id)
			l.mu.Lock()
			l.asking = nil
			l.mu.Unlock()
			close(q.answered)
		}()
	}
	l.mu.Unlock()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-q.answered:
		if q.id == 0 {
			return nil
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.conns[q.id]
	case <-t.C:
		return nil
	}
}

// loopQuestion is one question Running put to the loop: id is the
// answer's Conn id (0: none), set before answered is closed.
type loopQuestion struct {
	answered chan struct{}
	id       uint64
}
