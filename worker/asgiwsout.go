package worker

import (
	"bytes"
	"time"

	"github.com/gowsgi/gowsgi/engine"
	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/gowsgi/gowsgi/websocket"
)

// wsOut is what a WebSocket session has yet to write. Owned by the
// session's goroutine.
type wsOut struct {
	wr  *websocket.Writer
	buf []byte
	// closeSent: a Close is queued or went out, or the connection broke;
	// nothing more may follow (RFC 6455 §5.5.1).
	closeSent bool
}

// close queues a Close, unless one went before.
func (o *wsOut) close(code websocket.CloseCode, reason string) {
	if !o.closeSent {
		o.buf, _ = websocket.AppendClose(o.buf, code, reason)
		o.closeSent = true
	}
}

// ping queues a ping, unless the Close went before.
func (o *wsOut) ping() {
	if !o.closeSent {
		o.buf = websocket.AppendPing(o.buf, nil)
	}
}

// control queues a frame the reader asks for: a pong, or a Close (the
// answer to the client's, or the refusal of a frame); nil says the
// connection broke.
func (o *wsOut) control(f []byte) {
	if f == nil {
		o.closeSent = true
		return
	}
	if bytes.HasPrefix(f, []byte{0x88}) {
		if o.closeSent {
			return
		}
		o.closeSent = true
	}
	o.buf = append(o.buf, f...)
}

// lastControl queues what the reader asked for before it ended: it
// queues its last frames (the answer to the client's Close, or the
// Close of a frame it refused) before it closes its done channel, and
// the session's select may see the channel first. After them nothing
// more goes out.
func (o *wsOut) lastControl(control <-chan []byte) {
	for {
		select {
		case f := <-control:
			o.control(f)
		default:
			o.closeSent = true
			return
		}
	}
}

// take acts on the app's events: its messages and its close are queued,
// its waits in receive() passed to the reader, its end noted (with a
// Close: 1000, or 1011 after an exception).
func (s *wsSession) take(o *wsOut, evs []pyshim.Sent) {
	for i := range evs {
		ev := &evs[i]
		switch ev.Kind {
		case pyshim.SentWSSend:
			if !o.closeSent {
				op := websocket.OpBinary
				if ev.Text {
					op = websocket.OpText
				}
				o.buf = o.wr.AppendMessage(o.buf, op, ev.Body)
			}
			pyshim.ReleaseBody(ev.Body) // copied (or dropped): back to its pool, as the HTTP path does
			ev.Body = nil
		case pyshim.SentWSClose:
			o.close(websocket.CloseCode(ev.Status), ev.Reason)
		case pyshim.SentWant:
			select {
			case s.wants <- struct{}{}:
			default:
			}
		case pyshim.SentDone:
			s.appDone = true
			if ev.Traceback != "" && !ev.ClientGone {
				s.log.Error().Msg("exception in the ASGI app's WebSocket:\n" + ev.Traceback)
				o.close(websocket.CloseCode(1011), "")
			}
			o.close(websocket.CloseCode(1000), "")
		}
	}
}

// flush writes what is queued, within --write-timeout; it reports false
// (and tells the app) when the connection failed.
func (s *wsSession) flush(u engine.Upgraded, o *wsOut) bool {
	if s.limits.writeTimeout > 0 {
		u.SetWriteDeadline(time.Now().Add(s.limits.writeTimeout))
	}
	if _, err := u.Write(o.buf); err != nil {
		s.c.Disconnect(1006, "")
		return false
	}
	o.buf = o.buf[:0]
	return true
}
