package engine

import (
	"fmt"
	"net/http"
	"runtime/debug"
)

// A Go panic in a connection's goroutine is contained to that
// connection: recovered at the top of serve, logged with its stack,
// counted (gowsgi_connection_panics_total), answered 500 if nothing of
// the response was sent (else the connection is cut), and the worker
// goes on serving its other connections. Without it, one panicking
// connection ended the worker and every request in flight on it.
//
// What the request held is given back first: its Python thread (slot),
// the app's open iterable (closed, as for a client gone), the OS thread
// lock, and a streamed body's feeder. A panic in Go code that C called
// (the write() hook) is caught there, where it cannot unwind through C
// frames, turned into a failed write(), and raised again once the call
// is back in Go.

// panicGuard is what containPanic needs of the request in progress. Set
// by respond while it runs (zero outside); owned by the connection
// goroutine.
type panicGuard struct {
	st         *streamer // the response being sent; nil outside respond
	sentBefore int64     // c.nc.written when the response began
}

// caughtPanic is a panic recovered where it could not be handled (in a
// callback from C), carried to containPanic with its original stack.
type caughtPanic struct {
	value any
	stack []byte
}

func (p *caughtPanic) String() string { return fmt.Sprint(p.value) }

// testPanicHook, when set (only by the gowsgi_testhooks build:
// testhook_panic.go), may panic at the named point of a request, so the
// tests can show the containment. Nil in every other build.
var testPanicHook func(c *conn, at string)

func (c *conn) testPanic(at string) {
	if testPanicHook != nil {
		testPanicHook(c, at)
	}
}

// containPanic is deferred by serve, to run before its other defers.
func (c *conn) containPanic() {
	v := recover()
	if v == nil {
		return
	}
	stack := debug.Stack()
	if p, ok := v.(*caughtPanic); ok {
		v, stack = p.value, p.stack
	}
	c.srv.stats.panicked()
	c.srv.log.Error().Str("panic", fmt.Sprint(v)).Str("method", string(c.req.Method)).
		Str("path", string(c.req.Path)).Str("remote", c.info.RemoteAddr).
		Msg("panic serving a connection; the connection is closed, the worker goes on:\n" + string(stack))
	g := c.guard
	c.guard = panicGuard{}
	sent := false
	if st := g.st; st != nil {
		st.finish() // closes the app's iterable if the panic left it open
		sent = c.nc.written.Load() > g.sentBefore
	}
	c.body.release()
	if !sent {
		c.writeError(http.StatusInternalServerError, "Internal Server Error")
	}
	// serve returns: the connection is closed.
}

// recoverInCallback turns a panic in a callback from C into a
// caughtPanic in *into and reports whether there was one; the caller
// then fails the callback, and raises *into once back in Go.
func recoverInCallback(v any, into **caughtPanic) bool {
	if v == nil {
		return false
	}
	if *into == nil {
		*into = &caughtPanic{value: v, stack: debug.Stack()}
	}
	return true
}
