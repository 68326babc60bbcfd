package engine

import (
	"net/http"

	"github.com/gowsgi/gowsgi/httpparse"
	"github.com/gowsgi/gowsgi/wsgi"
	"golang.org/x/sys/unix"
)

// Taking the connection over from inside a call into the app.
//
// Gunicorn gives every WSGI request the client's socket, as
// environ["gunicorn.socket"], and the WebSocket libraries for WSGI apps
// use it (simple-websocket, and so Flask-Sock, Flask-SocketIO and
// python-engineio's threading mode): the app answers the upgrade and
// speaks the protocol on the socket itself, from inside its call, often
// with a thread of its own reading, and ends the call by raising
// StopIteration, which Gunicorn takes as "close the connection, write
// nothing".
//
// The engine offers the descriptor (Request.Socket) only where such an
// app can use it: a request that asks to become a WebSocket, on plain
// TCP or a unix socket (TLS is Go's: the descriptor carries
// ciphertext), with no body and nothing read past its head, nothing of
// an earlier response unsent, and the worker not stopping. Such a call
// is a session, not a request that may hang: neither --timeout nor
// --request-timeout times it (Gunicorn's gthread worker times no
// request either). The app may make the descriptor blocking (Gunicorn's
// socket is); the engine makes it non-blocking again before it writes
// or reads it. When the app used the socket (Step.Taken) the engine
// writes nothing more and closes the connection; a graceful stop shuts
// the read side of a socket in use, so the app's next read sees the
// client gone and the session ends, rather than waiting out
// --graceful-timeout.

// offerSocket decides whether the request about to run may take the
// connection over, and if so marks it so (under mu, against a graceful
// stop that begins meanwhile) and returns its descriptor; else -1.
func (c *conn) offerSocket() int {
	if !c.srv.offerSockets || c.nc.tls != nil || c.nc.tlsFront != nil ||
		c.body.size > 0 || c.body.stream.Load() != nil || c.out.len() > 0 ||
		c.br.Buffered() > 0 || !c.asksWebSocket() {
		return -1
	}
	fd := -1
	if rc, err := c.nc.SyscallConn(); err == nil {
		rc.Control(func(d uintptr) { fd = int(d) })
	}
	if fd < 0 {
		return -1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.srv.stop:
		return -1 // the session would only be cut: the client reconnects to a sibling
	default:
	}
	c.offered, c.offerLive, c.blocking = fd, true, true
	return fd
}

// asksWebSocket reports whether the request asks to switch protocols
// (asksUpgrade) to a WebSocket: its Upgrade field lists "websocket".
func (c *conn) asksWebSocket() bool {
	if !c.asksUpgrade() {
		return false
	}
	if c.uwsgi != nil {
		for _, v := range wsgi.UwsgiHeader(c.uwsgi, "upgrade") {
			if hasConnectionOption(v, "websocket") {
				return true
			}
		}
		return false
	}
	for i := range c.req.Headers {
		h := &c.req.Headers[i]
		if httpparse.EqualFoldASCII(h.Name, "upgrade") && hasConnectionOption(h.Value, "websocket") {
			return true
		}
	}
	return false
}

// reclaimSocket makes the offered descriptor non-blocking again, as the
// runtime poller needs it, once the app's call returned or before the
// engine writes for it (write()). The flag belongs to the open file,
// which the app's duplicate shares.
func (c *conn) reclaimSocket() {
	if !c.blocking {
		return
	}
	c.blocking = false
	unix.SetNonblock(c.offered, true)
}

// endOffer ends the offer of the request that just ran.
func (c *conn) endOffer() {
	if c.offered < 0 {
		return
	}
	c.reclaimSocket()
	c.mu.Lock()
	c.offerLive = false
	c.mu.Unlock()
	c.offered = -1
}

// endTakeover closes a connection the app took over: nothing more is
// written (the app spoke its own protocol on it), the traceback of an
// error the app ended with is logged, and both directions are shut, so
// a thread the app left reading its duplicate of the descriptor sees
// the end too. The access log shows 101: the engine does not read what
// the app wrote.
func (c *conn) endTakeover(st *streamer, step *Step) bool {
	st.finish()
	if step.Traceback != "" {
		c.logAppError(step.Traceback)
	}
	c.acc.status, c.acc.produced, c.acc.planned = http.StatusSwitchingProtocols, 0, false
	unix.Shutdown(c.offered, unix.SHUT_RDWR)
	c.endOffer()
	return false
}

// stopSession shuts the read side of a socket the app may hold (a
// graceful stop): its next read sees the client gone. Called by Drain.
func (c *conn) stopSession() {
	c.mu.Lock()
	if c.offerLive {
		unix.Shutdown(c.offered, unix.SHUT_RD)
	}
	c.mu.Unlock()
}

// Socket returns the client connection's descriptor when the engine
// offers it to this request (see takeover.go): the app may then speak
// an upgraded protocol on it itself, from inside Start, and return
// Step.Taken. The descriptor stays the engine's: the app uses a
// duplicate.
func (r *Request) Socket() (fd int, ok bool) {
	if r.c == nil || r.c.offered < 0 {
		return -1, false
	}
	return r.c.offered, true
}
