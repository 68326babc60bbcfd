package engine

import (
	"errors"
	"time"
)

// --request-timeout. A call into the app that runs past the timeout is
// interrupted (Caller.Interrupt: for WSGI, TimeoutError raised in its
// Python thread, so pure-Python code unwinds) and its stack logged with
// its request; the client gets 504 if nothing was sent yet
// (failure). A thread blocked in C never sees the exception: once the
// call has outlived the timeout plus --graceful-timeout, the worker asks
// the master to replace it, and its other threads finish their requests
// before it stops. --timeout, the master's liveness limit, still kills
// a worker whose call outlives it.

// errRequestTimedOut is why a streamed body was cut by --request-timeout.
var errRequestTimedOut = errors.New("engine: request timeout")

// enforceTimeout checks every busy slot; run by the reporter goroutine.
func (ws *stats) enforceTimeout(now time.Time) {
	limit := ws.srv.cfg.RequestTimeout
	for i, sl := range ws.srv.allSlots {
		since := sl.call.since.Load()
		if since == 0 || now.Sub(time.Unix(0, since)) < limit || sl.call.untimed.Load() {
			continue
		}
		x := &ws.slots[i]
		if x.firedFor.Load() != since {
			x.mu.Lock()
			running := x.x
			x.mu.Unlock()
			if running != nil {
				x.firedFor.Store(since)
				go ws.interrupt(sl, x, running, since, now)
			}
			continue
		}
		if now.Sub(time.Unix(0, since)) >= limit+ws.srv.cfg.GracefulTimeout && !ws.retiring.Swap(true) {
			ws.srv.log.Error().Int("thread", i).Dur("elapsed", now.Sub(time.Unix(0, since))).
				Msg("request timeout: the call did not stop (blocked outside Python); replacing this worker gracefully")
			if ws.srv.retire != nil {
				ws.srv.retire(true)
			}
		}
	}
}

// interrupt stops the call that began at since on sl, running in
// running. It runs on a goroutine of its own (Caller.Interrupt may lock
// it to its OS thread: for WSGI it takes the GIL there), so that an app
// holding the GIL in C does not block the stats and the graceful
// replacement that follows.
func (ws *stats) interrupt(sl *slot, x *slotExtra, running *exchange, since int64, now time.Time) {
	// The call's streamed body, read before the call can end: once it
	// has, its connection may be streaming the next request's.
	var stream *bodyStream
	x.mu.Lock()
	if x.owner != nil {
		stream = x.owner.body.stream.Load()
	}
	owner := x.owner
	x.mu.Unlock()
	// The 504 mark goes on before the exception is raised: the call's
	// thread may see it, unwind and ask failure() for its answer before
	// this goroutine runs again (a 500 then, under load).
	if owner != nil {
		ws.timedOut.Store(owner, since)
	}
	stack, raised := running.call.Interrupt(&sl.call.since, since)
	if !raised {
		// It returned (or left Python) while we waited for the GIL.
		if owner != nil {
			ws.timedOut.CompareAndDelete(owner, since)
		}
		return
	}
	x.mu.Lock()
	client, id := x.client, string(x.requestID)
	x.mu.Unlock()
	sl.call.mu.Lock()
	method, path := string(sl.call.method), string(sl.call.path)
	sl.call.mu.Unlock()
	ws.timeouts.Add(1)
	if stream != nil {
		// An app waiting in wsgi.input for body bytes that do not come is
		// in read(2) without the GIL: cut the stream, so the read returns
		// and the app unwinds (with the TimeoutError, or the reset it
		// reads first). After timedOut is set: the answer is then the 504.
		stream.cut(errRequestTimedOut)
	}
	ev := ws.srv.log.Error().Str("method", method).Str("path", path).Str("client", client).
		Dur("elapsed", now.Sub(time.Unix(0, since))).Dur("request_timeout", ws.srv.cfg.RequestTimeout)
	if id != "" {
		ev = ev.Str("request_id", id)
	}
	ev.Msg("request timeout: raising TimeoutError in the request's thread; its stack (most recent call last):\n" + stack)
}
