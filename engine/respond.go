package engine

import (
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gowsgi/gowsgi/wsgi"
)

func statusText(code int) string { return wsgi.ReasonPhrase(code) }

// respond runs the app for the current request and sends its response.
// It reports whether the connection may carry another request.
//
// The app's slot (for WSGI a Python thread) is held while the app runs and produces, never
// while the client is slow to read: what the socket does not take at
// once goes to the connection's outbox, and a response that outgrows it
// is written with the slot given back and the exchange parked.
func (c *conn) respond() bool {
	keep := c.respondOnce()
	c.guard = panicGuard{} // not reached when respondOnce panics: containPanic needs it
	c.resp = streamer{}    // lets go of the slot and exchange it used
	return keep
}

func (c *conn) respondOnce() bool {
	req := &c.req
	bodyLen := int64(-1)
	if req.HasContentLength || req.Chunked {
		bodyLen = c.body.size
	}
	if !c.chooseScheme() {
		return false
	}
	c.ensureRequestID()
	c.fillRequest(bodyLen)
	if c.srv.prepare != nil {
		c.srv.prepare(&c.appReq)
	}
	start := time.Now()
	c.beginAccess(start)
	c.srv.stats.arrive()
	defer c.endRequest(start)
	defer c.postRequestHook() // before endRequest, which clears c.acc
	defer c.endWatch()        // first: the Caller is done with the response by then

	sl := c.srv.takeSlotFor(c, start)
	if c.offerSocket() >= 0 {
		sl.call.untimed.Store(true) // a session, not a call that may hang: takeover.go
	}
	defer c.endOffer()
	c.resp = streamer{c: c, sl: sl, x: sl.x}
	st := &c.resp
	st.bindBody(sl)
	// One goroutine (for WSGI, one OS thread) for the whole exchange: a
	// generator resumed between chunks sees the same thread state
	// (threading.local, contextvars).
	st.enter()
	c.guard = panicGuard{st: st, sentBefore: c.nc.written.Load()}
	if !c.preRequestHook() {
		st.finish()
		c.writeAppError(http.StatusInternalServerError, "Internal Server Error")
		return false
	}
	step := st.x.call.Start(&c.appReq, c.writeHook)
	c.reclaimSocket()
	if st.panicked != nil {
		panic(st.panicked) // caught in write()'s hook, under C frames: panic.go
	}
	c.testPanic("respond")
	if !st.headSent && c.refuseStreamedBody(st) {
		return false
	}
	if step.Taken {
		return c.endTakeover(st, &step)
	}
	if c.offered >= 0 {
		// Not a session: the app answered without the socket, and the
		// rest of its response is timed as any, from now.
		st.sl.call.untimed.Store(false)
		st.sl.call.next(time.Now())
	}
	if st.headSent {
		// write() already sent the head: a failure now can only cut the
		// connection, and the rest goes out as usual.
		if step.Failed {
			st.finish()
			if !c.leftBeforeAnswer(step.Traceback) {
				c.logAppError(step.Traceback)
			}
			return false
		}
		if step.Traceback != "" {
			c.logAppError(step.Traceback)
		}
		return st.run(nil, step)
	}
	if step.Failed {
		st.finish()
		if c.leftBeforeAnswer(step.Traceback) {
			return false
		}
		c.logAppError(step.Traceback)
		if st.headErr != nil {
			c.logInvalidResponse(st.headErr)
		}
		c.writeAppError(c.srv.stats.failure(c)) // 504 after --request-timeout
		return false
	}
	if step.Traceback != "" {
		c.logAppError(step.Traceback) // close() raised after a complete body
	}
	if step.Upgrade != nil {
		return c.upgrade(st, &step)
	}
	head, err := st.begin(&step, knownBodyLen(&step))
	if err != nil {
		tb := st.x.call.Abort()
		st.finish()
		if tb != "" {
			c.logAppError(tb)
		}
		c.logInvalidResponse(err)
		c.writeAppError(http.StatusInternalServerError, "The application sent an invalid response.")
		return false
	}
	return st.run(head, step)
}

// endRequest counts and logs the request answered since start, with one
// reading of the clock for both and for the wait for the next request.
func (c *conn) endRequest(start time.Time) {
	end := time.Now()
	c.srv.stats.done(c, end.Sub(start))
	c.sendStatsd(end.Sub(start))
	c.logAccess(start, end)
	c.lastEnd = end
}

func (c *conn) logInvalidResponse(err error) {
	c.srv.log.Error().Err(err).Str("path", string(c.req.Path)).Str("request_id", c.requestID()).
		Msg("invalid response from the application")
}

// begin validates the app's status and headers and frames the head:
// bodyLen is the whole body's length when it is already known, else -1.
func (st *streamer) begin(step *Step, bodyLen int64) ([]byte, error) {
	c, req := st.c, &st.c.req
	now := time.Now()
	ex := wsgi.Exchange{
		Minor: req.Minor,
		Head:  string(req.Method) == "HEAD",
		// A streamed body the app has not read to its end closes the
		// connection after the response: the head says so.
		KeepAlive: req.KeepAlive && c.srv.cfg.KeepAlive > 0 && !c.srv.gate.shouldShed(now) && !c.srv.isDraining() &&
			!c.body.unfinished(),
		BodyLen: bodyLen,
	}
	st.x.fields = c.srv.defaults.add(append(st.x.fields[:0], step.Headers...))
	head, plan, err := wsgi.AppendHead(st.x.head[:0], step.Status, st.x.fields, ex, c.srv.dates.Get(now))
	if err == nil {
		head = c.appendRequestID(head, st.x.fields)
		if step.TrailersFollow && plan.Framing == wsgi.FrameChunked {
			head = appendTrailerFields(head, st.x.fields) // trailerfield.go
		}
	}
	clear(st.x.fields) // they point into the Caller's storage
	st.x.head = head[:0]
	if err != nil {
		return nil, err
	}
	c.noteHead(step, plan)
	c.w = bodyWriter{nc: c.nc, timeout: c.srv.writeTimeout, noSendfile: !c.srv.cfg.Sendfile, plan: plan,
		remaining: plan.ContentLength}
	return head, nil
}

// writeEarly is the write hook the Caller's Start gets: the response's
// earlyWrite.
func (c *conn) writeEarly(step Step) bool { return c.resp.earlyWrite(step) }

// earlyWrite sends what the app passes to write() while it still runs:
// PEP 3333 wants those bytes sent, or buffered for sending, before
// write() returns. It runs inside Start (for WSGI without the GIL), so
// it must not call the Caller (no Abort: a false return makes write()
// raise ConnectionError in the app instead).
func (st *streamer) earlyWrite(step Step) (ok bool) {
	defer func() {
		if recoverInCallback(recover(), &st.panicked) {
			ok = false
		}
	}()
	c := st.c
	c.reclaimSocket()
	c.testPanic("write")
	if step.Interim {
		return st.sendInterim(&step) // interim.go
	}
	bufs := c.step[:0]
	if !st.headSent {
		head, err := st.begin(&step, -1)
		if err != nil {
			st.headErr = err
			return false
		}
		st.headSent = true
		bufs = append(bufs, head)
	}
	bufs = c.w.frame(bufs, step.Body, step.Big)
	c.acc.produced += int64(len(step.Body) + len(step.Big))
	err := st.send(bufs, false)
	clear(bufs)
	return err == nil
}

// streamer sends one response, step by step. It holds the slot (sl
// non-nil) while it asks the app for more, and gives it back while it
// waits for the client; x stays its own throughout.
type streamer struct {
	c       *conn
	sl      *slot     // nil while parked
	x       *exchange // sl.x until parked, then detached from any slot
	parked  bool      // x was detached: it goes to the spares at the end
	entered bool      // x.call.Enter was called, and not Leave yet
	// headSent: write() sent the head while the app ran (earlyWrite);
	// headErr: the head write() would have sent was invalid.
	headSent bool
	headErr  error
	// panicked is a panic caught in earlyWrite, raised again after Start.
	panicked *caughtPanic
}

// run sends the head and first step, then the rest of the response. It
// is entered holding the slot with the Caller entered, and returns with
// both given back.
func (st *streamer) run(head []byte, step Step) bool {
	c := st.c
	defer st.finish()
	defer c.hold.stop()
	bufs := c.step[:0]
	if head != nil { // nil when write() already sent it
		bufs = append(bufs, head)
	}
	cut := false // invalid trailers: the response ends without its last chunk
	for {
		bufs = c.w.frame(bufs, step.Body, step.Big)
		c.acc.produced += int64(len(step.Body)+len(step.Big)) + step.File.Len
		if step.Done && c.w.plan.Framing == wsgi.FrameChunked {
			last, err := c.w.lastChunk(step.Trailers)
			if err != nil {
				// The head is out: as for an app that fails mid-body,
				// the client must see a truncated response.
				c.logInvalidResponse(err)
				cut = true
			} else {
				bufs = append(bufs, last)
			}
		}
		var now time.Time // read only for a response that goes on
		if !step.Done && step.File.Len == 0 {
			now = time.Now()
		}
		if !now.IsZero() && c.hold.mayHold(size(bufs), now) {
			c.out.keep(bufs) // the holder sends it if the app takes long
		} else {
			// Bytes before a file region (the head, mostly) wait in the
			// kernel to leave with the file's first segment: one segment
			// and one wake-up of the client fewer per file.
			c.nc.more = c.w.sendsFile(step.File)
			ok := st.deliver(bufs, step.Done)
			c.nc.more = false
			if !ok {
				return false
			}
			c.testPanic("sent")
		}
		clear(bufs) // Big points into Python memory that Next frees
		bufs = bufs[:0]
		if step.File.Len > 0 && !st.sendFile(step.File) {
			return false
		}
		if step.Done {
			break
		}
		if now.IsZero() {
			now = time.Now()
		}
		st.sl.call.next(now)
		c.hold.beginWait(now)
		step = st.x.call.Next()
		heldErr := c.hold.endWait()
		if step.Failed {
			if c.leftBeforeAnswer(step.Traceback) {
				st.finish() // nobody to send the rest to
				return false
			}
			// The head is out, or held: cut the connection after the
			// bytes held so far, so the client sees a truncated response
			// rather than a complete-looking one.
			c.logAppError(step.Traceback)
			if heldErr == nil {
				st.finish()
				c.flushOut()
			}
			return false
		}
		if heldErr != nil { // the client went away
			st.abort()
			return false
		}
		if step.Traceback != "" {
			c.logAppError(step.Traceback)
		}
	}
	st.finish() // the app is done: free its thread before waiting on the client
	if err := c.flushOut(); err != nil || cut {
		return false
	}
	if !c.w.complete() {
		c.logShortBody()
		return false
	}
	return c.w.plan.KeepAlive
}

// logShortBody says why a response's connection closes: its body was
// shorter than the app's Content-Length (a wsgi.file_wrapper file that
// holds less, a list that adds up to less), so the client, which waits
// for the rest, sees the response cut off, as under Gunicorn, instead of
// a complete-looking one. The app has a bug, or its file shrank.
func (c *conn) logShortBody() {
	c.srv.log.Warn().Int64("content_length", c.w.plan.ContentLength).
		Int64("sent", c.w.plan.ContentLength-c.w.remaining).Str("path", string(c.req.Path)).
		Str("request_id", c.requestID()).
		Msg("the app's body is shorter than its Content-Length: closing the connection")
}

// deliver hands one step's bytes to the client: what the socket takes
// now, the rest to the outbox. A step that would overflow the outbox is
// written with the slot given back and the exchange parked; its bytes
// (in the Caller's storage or the app's memory) stay valid until Next.
func (st *streamer) deliver(bufs [][]byte, done bool) bool {
	if err := st.send(bufs, done); err != nil {
		st.abort()
		return false
	}
	return true
}

// send is deliver without ending the app's iterator on failure.
func (st *streamer) send(bufs [][]byte, done bool) error {
	c := st.c
	rest, err := c.trySend(bufs)
	if err != nil {
		return err
	}
	if c.out.fits(size(rest), done) {
		c.out.keep(rest)
		return nil
	}
	parked := st.park()
	untimed := false
	if !parked {
		// Past the parking bound the wait keeps the slot, but it is the
		// client's time, not the app's: neither --timeout nor
		// --request-timeout may take it for a stuck call.
		untimed = st.sl.call.untimed.Swap(true)
	}
	sendv := append(c.send[:0], c.out.pending())
	sendv = append(sendv, rest...)
	err = c.nc.writeAll(sendv, c.srv.writeTimeout)
	clear(sendv)
	c.out.reset()
	if parked {
		st.resume()
	} else {
		st.sl.call.untimed.Store(untimed)
		st.sl.call.next(time.Now())
	}
	return err
}

// sendFile sends a wsgi.file_wrapper's file region after the bytes
// before it, with the slot given back: the region, like a big chunk,
// stays valid until Next, and a slow client of a big file must not hold
// a Python thread. Meanwhile the connection does not count as load.
func (st *streamer) sendFile(f FileRegion) bool {
	c := st.c
	parked := st.park()
	unsent := f.Len
	err := c.flushOut()
	if err == nil {
		c.nc.beginWait()
		unsent, err = c.w.sendFile(f)
		c.nc.endWait()
	}
	if err != nil {
		c.acc.produced -= unsent // counted whole before it was sent
	}
	if parked {
		st.resume()
	}
	if err != nil {
		st.abort()
		return false
	}
	return true
}

func (c *conn) logAppError(tb string) {
	c.srv.log.Error().Str("method", string(c.req.Method)).Str("path", string(c.req.Path)).
		Str("request_id", c.requestID()).Msg("error handling request:\n" + tb)
}

var lastChunk = []byte("0\r\n\r\n")

// bodyWriter frames body bytes as the plan says.
type bodyWriter struct {
	nc         net.Conn      // for sendFile; never nil
	timeout    time.Duration // longest wait for the client to take bytes; 0 = none
	noSendfile bool          // --no-sendfile: files are read and written
	plan       wsgi.Plan
	remaining  int64 // FrameLength: bytes still owed
	sizes      [2][20]byte
	trailer    []byte // the last chunk with trailer fields; nil without
}

// lastChunk returns the end of a chunked body: the 0-size chunk, then
// the trailer section and its empty line (RFC 9112 §7.1.2):
//
//	no trailers → "0\r\n\r\n";  x-sum: 1 → "0\r\nx-sum: 1\r\n\r\n"
func (w *bodyWriter) lastChunk(trailers [][2][]byte) ([]byte, error) {
	if len(trailers) == 0 {
		return lastChunk, nil
	}
	b, err := wsgi.AppendTrailers(append(w.trailer[:0], "0\r\n"...), trailers)
	w.trailer = b
	return b, err
}

// frame appends the parts to bufs with the framing of the plan: chunk
// size lines for chunked, truncation at Content-Length, nothing at all
// for a body-less response.
func (w *bodyWriter) frame(bufs [][]byte, parts ...[]byte) [][]byte {
	for i, p := range parts {
		if len(p) == 0 {
			continue
		}
		switch w.plan.Framing {
		case wsgi.FrameNone:
			continue
		case wsgi.FrameLength:
			if int64(len(p)) > w.remaining {
				p = p[:w.remaining] // PEP 3333: never send more than Content-Length
			}
			w.remaining -= int64(len(p))
			if len(p) > 0 {
				bufs = append(bufs, p)
			}
		case wsgi.FrameChunked:
			size := strconv.AppendInt(w.sizes[i][:0], int64(len(p)), 16)
			size = append(size, '\r', '\n')
			bufs = append(bufs, size, p, crlf)
		case wsgi.FrameClose:
			bufs = append(bufs, p)
		}
	}
	return bufs
}

var crlf = []byte("\r\n")

// flush writes bufs, waiting for the client as needed; sendFile frames a
// file region with it once the outbox is empty.
func (w *bodyWriter) flush(bufs [][]byte) error {
	for _, b := range bufs {
		if w.timeout > 0 {
			w.nc.SetWriteDeadline(time.Now().Add(w.timeout))
		}
		if _, err := w.nc.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// complete reports whether the body matched its framing: an app that
// sent less than its Content-Length leaves the client waiting for bytes
// that never come, so the connection must close.
func (w *bodyWriter) complete() bool {
	return w.plan.Framing != wsgi.FrameLength || w.remaining == 0
}
