package engine

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gowsgi/gowsgi/httpparse"
	"github.com/gowsgi/gowsgi/wsgi"
)

// Upgraded is a connection an app took over after answering 101
// Switching Protocols (Step.Upgrade): a WebSocket, after RFC 6455's
// handshake. Reads return first the bytes the client sent past the
// request head; Read and Write may run on two goroutines at once, but
// none may still run once Upgrade returns: the engine then reads what
// the client still sends, and drops it, before it closes the connection.
type Upgraded interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	// Stopping is closed when a graceful stop begins: the app then ends
	// the protocol (a WebSocket closes with 1001, going away) and
	// returns; the worker waits for it as for a request in flight.
	Stopping() <-chan struct{}
}

// upgraded is the Upgraded view of a connection.
type upgraded struct{ c *conn }

func (u upgraded) Read(p []byte) (int, error)         { return u.c.br.Read(p) }
func (u upgraded) Write(p []byte) (int, error)        { return u.c.nc.Write(p) }
func (u upgraded) SetReadDeadline(t time.Time) error  { return u.c.nc.SetReadDeadline(t) }
func (u upgraded) SetWriteDeadline(t time.Time) error { return u.c.nc.SetWriteDeadline(t) }
func (u upgraded) Stopping() <-chan struct{}          { return u.c.srv.stop }

// asksUpgrade reports whether the request asks to switch protocols
// (RFC 9110 §7.8): an Upgrade header, and "upgrade" among the
// Connection options, from HTTP/1.1 on. On a uwsgi connection the
// headers are the packet's HTTP_UPGRADE and HTTP_CONNECTION vars and
// the version SERVER_PROTOCOL's: nginx passes them (uwsgi_params passes
// every request header) and, on a 101 to a request with Upgrade, tunnels
// the connection both ways as proxy_pass does. Never while a streamed
// body still reads the socket: the upgraded protocol's bytes follow it.
func (c *conn) asksUpgrade() bool {
	if c.body.stream.Load() != nil {
		return false
	}
	if c.uwsgi != nil {
		return uwsgiAsksUpgrade(c.uwsgi)
	}
	if c.req.Minor < 1 || len(requestHeader(c.req.Headers, "upgrade")) == 0 {
		return false
	}
	for i := range c.req.Headers {
		h := &c.req.Headers[i]
		if httpparse.EqualFoldASCII(h.Name, "connection") && hasConnectionOption(h.Value, "upgrade") {
			return true
		}
	}
	return false
}

var errBadUpgrade = errors.New("a response that takes the connection over must be a complete 101 with an Upgrade header, to a request that asked for one")

// upgradeHead frames the 101 head: the app's fields, validated as any
// head's, then Upgrade and Connection, which AppendHead leaves out as
// hop-by-hop (RFC 9110 §15.2.2: a 101 names the protocols switched to).
func (c *conn) upgradeHead(st *streamer, step *Step, proto []byte) ([]byte, error) {
	ex := wsgi.Exchange{Minor: 1, KeepAlive: true, BodyLen: 0, Switching: true}
	st.x.fields = c.srv.defaults.add(append(st.x.fields[:0], step.Headers...))
	head, plan, err := wsgi.AppendHead(st.x.head[:0], step.Status, st.x.fields, ex, c.srv.dates.Get(time.Now()))
	if err == nil {
		head = c.appendRequestID(head, st.x.fields)
		head = append(head[:len(head)-2], "Upgrade: "...)
		head = append(append(head, proto...), "\r\nConnection: Upgrade\r\n\r\n"...)
		c.noteHead(step, plan)
	}
	clear(st.x.fields)
	st.x.head = head[:0]
	return head, err
}

// fieldValue is the value of the first field named lower, or nil.
func fieldValue(fields [][2][]byte, lower string) []byte {
	for _, f := range fields {
		if httpparse.EqualFoldASCII(f[0], lower) {
			return f[1]
		}
	}
	return nil
}

// hasConnectionOption reports whether the comma-separated list holds
// opt (lower case), in any case.
func hasConnectionOption(list []byte, opt string) bool {
	for _, part := range bytes.Split(list, []byte(",")) {
		if httpparse.EqualFoldASCII(bytes.TrimSpace(part), opt) {
			return true
		}
	}
	return false
}

// upgrade answers a Step that takes the connection over: the 101 head
// goes out, the app's slot and Caller are given back, and the app's
// Upgrade runs on this goroutine with the connection until it returns;
// the connection then closes, lingering. A Step that does not fit (not
// 101, not complete, a request that did not ask) is an invalid response.
func (c *conn) upgrade(st *streamer, step *Step) bool {
	code, err := wsgi.ParseStatus(step.Status)
	if err == nil && (code != http.StatusSwitchingProtocols || !step.Done || !c.asksUpgrade()) {
		err = errBadUpgrade
	}
	proto := fieldValue(step.Headers, "upgrade")
	if err == nil && len(proto) == 0 {
		err = errBadUpgrade
	}
	var head []byte
	if err == nil {
		head, err = c.upgradeHead(st, step, proto)
	}
	if err != nil {
		if tb := st.x.call.Abort(); tb != "" {
			c.logAppError(tb)
		}
		st.finish()
		c.logInvalidResponse(err)
		c.writeAppError(http.StatusInternalServerError, "The application sent an invalid response.")
		return false
	}
	run := step.Upgrade
	c.send[0] = head
	err = c.nc.writeAll(c.send[:1], c.srv.writeTimeout)
	c.send[0] = nil
	st.finish() // the slot and the Caller go back: the app's session runs without them
	if err != nil {
		return false
	}
	c.nc.SetDeadline(time.Time{})
	c.nc.leaveGate()
	run(upgraded{c})
	c.lingerUpgraded()
	return false
}

// lingerUpgraded closes a taken-over connection as lingeringClose does
// an errored one, but bounded by time alone. A session that ended on a
// frame it refused (a WebSocket message over --ws-max-size, refused at
// its header) leaves the rest of it unread, as large as that limit:
// closing then would reset the connection (or, on a unix socket, fail
// the peer's writes), and nginx tunnelling the socket then drops the
// Close frame it has not relayed yet. The peer could already send for
// as long as the session lasted; half a second more costs no more.
//
// On TLS the session's close_notify goes first (shutWrite).
func (c *conn) lingerUpgraded() {
	deadline := time.Now().Add(lingerTimeout)
	r := c.shutWrite(deadline)
	c.nc.SetReadDeadline(deadline)
	io.Copy(io.Discard, r)
}

// leaveGate takes the socket out of the accept gate for good: an
// upgraded connection no longer competes for the app's slots, and its
// reads and writes, which may wait at once on two goroutines, would
// count it in and out of the gate out of turn. Called by the
// connection goroutine before the session starts.
func (s *sock) leaveGate() {
	if s.state.Swap(sockWaiting) != sockWaiting {
		s.gate.done()
	}
	s.gate = new(gate) // counts what nobody reads
}
