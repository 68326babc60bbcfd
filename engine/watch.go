package engine

import (
	"errors"
	"os"
	"sync"
	"time"
)

// Watching for a client that goes away while its app waits with nothing
// to send. The engine learns that a client left when a write fails; an
// app that sends nothing for a while (a long poll, an event stream
// between events, an ASGI app awaiting receive() after the body to hear
// of the client's going) would learn it only at its next send, or never.
// ASGI's http.disconnect is meant to come at once, as Uvicorn delivers
// it: so on the app's request (Request.WatchClient), and only then, the
// connection is read while the response is open, on a goroutine of the
// watch's own. Read and write may run at once on a sock (sock.go), as
// for a streamed body's feeder; through TLS too (tls.go).
//
// The read ends the watch either way: EOF or an error (a reset) means
// the client is gone; bytes mean the client sent its next request
// (pipelined), which stays in the read buffer for the request loop, and
// the client is then taken to be there. A read that meets the watch's
// stop (the response is over) or --request-timeout's cut of a stream is
// neither.

// watchState is where a response's client watch is. Serve goroutine
// only.
type watchState uint8

const (
	watchIdle    watchState = iota // not asked for during this response
	watchOn                        // a watcher runs, or ran: gone and ended are set
	watchRefused                   // asked for, but the connection cannot be watched
)

// clientWatch is a connection's watch; one per response at most.
type clientWatch struct {
	state watchState // serve goroutine only
	gone  chan struct{}
	ended chan struct{} // closed when the watcher returned
	// setHold: the watch made the socket count as load while its read
	// waits (as a streamed body's does): the request holds a slot.
	setHold bool

	mu      sync.Mutex
	stop    chan struct{} // closed by endWatch; guarded by mu
	stopped bool          // guarded by mu
	armed   bool          // guarded by mu: the watcher owns the read deadline
	saved   int64         // guarded by mu: the read deadline before it (sock.rdl)
}

// WatchClient watches the connection for the client going away while
// the app has nothing to send: the channel it returns is closed once the
// client closed or reset the connection (ASGI's http.disconnect). Call
// it from inside Start or Next (the request's goroutine); the watch
// begins at the first call (a goroutine and a read on the socket, so
// only a request whose app asks pays) and ends with the response; later
// calls return the same channel.
//
// It returns nil, a channel that never fires, when the connection cannot
// be watched: the next request is already in the read buffer
// (pipelined). Bytes that arrive during the watch (the next request)
// end it as well; they are kept for the next request. A request body
// not yet read whole (a stream) is waited for first: until then the
// body's own reads report a client that leaves.
func (r *Request) WatchClient() <-chan struct{} {
	if r.c == nil {
		return nil
	}
	return r.c.watchClient()
}

func (c *conn) watchClient() <-chan struct{} {
	w := &c.watch
	switch w.state {
	case watchOn:
		return w.gone
	case watchRefused:
		return nil
	}
	s := c.body.stream.Load()
	// With a stream, the feeder owns the read buffer until it is done:
	// the watcher looks at it only then.
	if s == nil && c.br.Buffered() > 0 {
		w.state = watchRefused
		return nil
	}
	w.state = watchOn
	w.gone, w.ended = make(chan struct{}), make(chan struct{})
	w.mu.Lock()
	w.stop, w.stopped, w.armed = make(chan struct{}), false, false
	w.mu.Unlock()
	if s == nil {
		// A stream's feeder set it already, and clears it when stopped.
		c.nc.hold = true
		w.setHold = true
	}
	c.srv.log.Debug().Str("path", string(c.req.Path)).Msg("watching the connection for the client going away")
	go w.watch(c, s)
	return w.gone
}

// watch is the watcher goroutine.
func (w *clientWatch) watch(c *conn, s *bodyStream) {
	defer close(w.ended)
	if s != nil {
		w.mu.Lock()
		stop := w.stop
		w.mu.Unlock()
		select {
		case <-s.done:
		case <-stop:
			return
		}
		if s.failed() != nil {
			return // the body was cut short: the app heard of it from the body
		}
	}
	if !w.arm(c) || c.br.Buffered() > 0 {
		return
	}
	_, err := c.br.Peek(1)
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		return // the next request came, or the watch was stopped
	}
	close(w.gone)
}

// arm lifts the read deadline for the watch's read, unless the watch
// was stopped: under mu, so that endWatch's past deadline, set after, is
// the one the read sees.
func (w *clientWatch) arm(c *conn) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return false
	}
	// No deadline: the app decides how long it waits (--request-timeout
	// bounds it); the watch ends with the response.
	w.saved = c.nc.rdl.Load()
	c.nc.SetReadDeadline(time.Time{})
	w.armed = true
	return true
}

// endWatch stops the watch of the response that ended, if any, and waits
// for its watcher, so that the read buffer and the read deadline are the
// request loop's again. Serve goroutine, once the Caller is done with
// the response.
func (c *conn) endWatch() {
	w := &c.watch
	if w.state != watchOn {
		w.state = watchIdle
		return
	}
	w.mu.Lock()
	w.stopped = true
	close(w.stop)
	if w.armed {
		c.nc.SetReadDeadline(pastDeadline)
	}
	w.mu.Unlock()
	<-w.ended
	if w.armed {
		var d time.Time
		if w.saved != 0 {
			d = time.Unix(0, w.saved)
		}
		c.nc.SetReadDeadline(d)
	}
	if w.setHold {
		c.nc.hold = false
	}
	w.state, w.setHold, w.armed = watchIdle, false, false
}

// clientLeft reports whether the watch saw the client go: a response
// that then fails is the app's answer to that, and nobody is left to
// answer.
func (c *conn) clientLeft() bool {
	w := &c.watch
	if w.state != watchOn {
		return false
	}
	select {
	case <-w.gone:
		return true
	default:
		return false
	}
}

// StatusClientClosed is the status the access log shows for a request
// whose client went away before the app answered (nginx's 499, "client
// closed request"); the client got nothing.
const StatusClientClosed = 499

// leftBeforeAnswer reports whether the watch saw the client go; if so, a
// response that then fails is the app's answer to that (an app that
// returns on http.disconnect without a response, a stream cancelled):
// nobody is left to answer, and what the app raised is logged at debug
// level, as for a client that left mid-response.
func (c *conn) leftBeforeAnswer(tb string) bool {
	if !c.clientLeft() {
		return false
	}
	if c.acc.status == 0 {
		c.acc.status = StatusClientClosed
	}
	ev := c.srv.log.Debug().Str("path", string(c.req.Path)).Str("request_id", c.requestID())
	if tb != "" {
		ev.Msg("the client went away while the app waited; the app then ended with:\n" + tb)
	} else {
		ev.Msg("the client went away while the app waited")
	}
	return true
}
