package engine

import "time"

// The response side of a connection while it waits for its client:
// writing the outbox, and giving the slot back (parking the exchange)
// for a slow reader and taking one again to go on.

// flushOut writes the outbox, waiting for the client as needed.
func (c *conn) flushOut() error {
	if c.out.len() == 0 {
		return nil
	}
	c.send[0] = c.out.pending()
	err := c.nc.writeAll(c.send[:1], c.srv.writeTimeout)
	c.send[0] = nil
	c.out.reset()
	return err
}

// trySend writes the outbox and then bufs, as much as the socket takes
// without waiting, and returns what is left of bufs.
func (c *conn) trySend(bufs [][]byte) ([][]byte, error) {
	sendv := c.send[:0]
	if c.out.len() > 0 {
		sendv = append(sendv, c.out.pending())
	}
	sendv = append(sendv, bufs...)
	n, err := c.nc.tryWritev(sendv)
	clear(sendv)
	if err != nil {
		return nil, err
	}
	if k := min(n, c.out.len()); k > 0 {
		c.out.consume(k)
		n -= k
	}
	consume(bufs, n)
	return skipEmpty(bufs), nil
}

// park gives the slot back for the wait on a slow client, keeping the
// exchange (and the app's open iterator) for this response, and reports
// true; resume takes a slot again. Unless maxParkedResponses wait so
// already: then it keeps the slot and reports false.
func (st *streamer) park() bool {
	s := st.c.srv
	if s.parked.Add(1) > s.maxParked {
		s.parked.Add(-1)
		if !s.parkedFull.Swap(true) {
			s.log.Warn().Int64("parked", s.maxParked).Msg("responses wait for slow clients holding their slots: " +
				"as many as a worker parks wait already")
		}
		return false
	}
	if !st.parked {
		st.sl.x = st.c.srv.spares.get()
		st.parked = true
	}
	st.bindBody(nil)
	st.c.srv.giveSlot(st.sl)
	st.sl = nil
	return true
}

// bindBody points a streamed request body's progress at the liveness
// clock of sl, the slot the response now holds (nil: none).
func (st *streamer) bindBody(sl *slot) {
	if bs := st.c.body.stream.Load(); bs != nil {
		if sl == nil {
			bs.call.Store(nil)
		} else {
			bs.call.Store(&sl.call)
		}
	}
}

// maxParkedResponses bounds the responses a WSGI worker parks at once.
// Each keeps its OS thread while it waits (a streamed response resumes on
// the thread it started on: threading.local, contextvars), and Go ends
// the process at 10,000 threads: 11,500 clients that did not read their
// streams once took a worker there (fatal error: thread exhaustion).
// Past the bound a response waits for its client holding its slot, as in
// a server that does not park, and the worker, full, leaves new
// connections to its siblings; --write-timeout ends the waits of clients
// that read nothing.
const maxParkedResponses = 1000

// resume takes a slot again to continue the parked exchange, on the same
// goroutine (and OS thread) as before.
func (st *streamer) resume() {
	st.c.srv.parked.Add(-1)
	st.sl, _ = st.c.srv.slots.take()
	st.sl.call.resume(st.c.req.Method, st.c.req.Path, st.x.call, time.Now())
	st.bindBody(st.sl)
	st.c.srv.stats.entered(st.sl, st.x)
}

// enter binds the response's Caller to this goroutine (Caller.Enter).
func (st *streamer) enter() {
	st.x.call.Enter()
	st.entered = true
	st.c.srv.stats.entered(st.sl, st.x)
}

// abort ends the app's iterator early (the client went away); close()
// runs in a slot like any app code.
func (st *streamer) abort() {
	if st.sl == nil {
		st.resume()
	}
	if tb := st.x.call.Abort(); tb != "" {
		st.c.logAppError(tb)
	}
	st.c.out.reset()
}

// finish gives back what the streamer holds; it may be called twice.
// The app's response is closed by then on every path but a panic's
// (containPanic): finish closes it, so that the exchange it gives back
// with the slot or to the spares is never reused open.
func (st *streamer) finish() {
	if (st.sl != nil || st.parked) && st.x.call.Open() {
		st.abort()
	}
	if st.entered {
		st.x.call.Leave()
		st.entered = false
	}
	if st.sl != nil {
		st.bindBody(nil)
		st.c.srv.giveSlot(st.sl)
		st.sl = nil
	}
	if st.parked {
		st.c.srv.spares.put(st.x)
		st.parked = false
	}
}
