package worker

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gowsgi/gowsgi/engine"
	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/gowsgi/gowsgi/websocket"
	"github.com/gowsgi/gowsgi/wsgi"
	"github.com/rs/zerolog"
)

// WebSockets of the ASGI worker (ASGI WebSocket spec 2.4, RFC 6455): the
// handshake is checked in Go (package websocket), the app's
// websocket.accept becomes the engine's 101 Step, and the session then
// runs on the connection's goroutine with the connection taken over
// (engine.Upgraded): frames are read on a goroutine of the session's
// own and written by the session, so the event loop only ever sees whole
// messages, and a client that stops reading stops only its session (its
// app's send() awaits once the connection's budget is queued).

// wsLimits are the WebSocket settings (Uvicorn's --ws-max-size,
// --ws-ping-interval, --ws-ping-timeout).
type wsLimits struct {
	maxSize      int           // bytes of one message; 0: websocket.DefaultMaxMessage
	pingInterval time.Duration // 0: no pings
	pingTimeout  time.Duration // a ping unanswered this long closes with 1011
	writeTimeout time.Duration // --write-timeout: a client that takes nothing this long is gone
}

// headerLookup is websocket.Request.Header over the request's fields,
// or over a uwsgi packet's HTTP_* vars (nginx passes the handshake's
// fields as HTTP_UPGRADE, HTTP_SEC_WEBSOCKET_KEY, ...).
func headerLookup(r *engine.Request) func(string) []string {
	if r.Uwsgi != nil {
		return func(name string) []string {
			var vs []string
			for _, v := range wsgi.UwsgiHeader(r.Uwsgi, name) {
				vs = append(vs, string(v))
			}
			return vs
		}
	}
	return func(name string) []string {
		var vs []string
		for _, f := range r.Head.Headers {
			if strings.EqualFold(string(f.Name), name) {
				vs = append(vs, string(f.Value))
			}
		}
		return vs
	}
}

// isWebSocket reports whether r asks to become a WebSocket, over HTTP
// or in a uwsgi packet.
func isWebSocket(r *engine.Request) bool {
	return websocket.IsUpgrade(headerLookup(r))
}

// handshakeRequest is what the opening handshake reads of r: a uwsgi
// packet's method, and its client's version from SERVER_PROTOCOL.
func handshakeRequest(r *engine.Request) websocket.Request {
	req := websocket.Request{Header: headerLookup(r)}
	if r.Uwsgi != nil {
		req.Method = string(r.Uwsgi.Method)
		req.Major, req.Minor = wsgi.UwsgiHTTPVersion(r.Uwsgi)
		return req
	}
	req.Method, req.Major, req.Minor = string(r.Head.Method), r.Head.Major, r.Head.Minor
	return req
}

// startWebSocket checks the handshake and starts the app with a
// websocket scope; the first Step is the 101 with the session, or the
// app's refusal.
func (w *asgiCaller) startWebSocket(r *engine.Request) engine.Step {
	hs, err := websocket.ParseRequest(handshakeRequest(r))
	if err != nil {
		var he *websocket.HandshakeError
		if errors.As(err, &he) {
			return handshakeRefusal(he)
		}
		return engine.Step{Failed: true, Traceback: err.Error()}
	}
	scope := w.scopeOf(r)
	// The connection's scheme, or the front end's (HTTPS, REQUEST_SCHEME).
	if scope.Scheme == "https" {
		scope.Scheme = "wss"
	} else {
		scope.Scheme = "ws"
	}
	c, err := w.app.loop.OpenWebSocket(scope, w.app.budget)
	if err != nil {
		return engine.Step{Failed: true, Traceback: err.Error()}
	}
	w.conn.Store(c)
	for {
		for w.next < len(w.events) {
			ev := &w.events[w.next]
			w.next++
			switch ev.Kind {
			case pyshim.SentWSAccept:
				return w.accept(c, hs, ev)
			case pyshim.SentStart: // websocket.http.response: an HTTP answer
				w.next--
				w.denial = true // its end is the WebSocket's: finishResponse
				return w.step()
			case pyshim.SentWSClose: // a close before accept is a 403 (the spec's rule)
				w.detach()
				wsOver(c)
				w.reap(c)
				w.complete = true
				return refusedWebSocket()
			case pyshim.SentDone:
				if ev.Traceback == "" {
					w.detach()
					w.complete = true
					return refusedWebSocket()
				}
				return w.ended(ev)
			}
		}
		<-c.Ready()
		clear(w.events)
		w.events, w.next = c.Take(w.events[:0]), 0
	}
}

// refusedWebSocket answers a handshake the app closed (or ended) before
// websocket.accept: 403, as the ASGI spec says, and the connection
// closes, as Uvicorn closes it: the client asked for another protocol,
// not for more HTTP on this connection.
func refusedWebSocket() engine.Step {
	return engine.Step{HasHead: true, Status: []byte("403 Forbidden"), Done: true,
		Headers: [][2][]byte{{[]byte("Connection"), []byte("close")}}}
}

// wsOver tells the app of a WebSocket refused before websocket.accept
// (its websocket.close, or its websocket.http.response once the last
// body part came) that the WebSocket is over: a receive() it awaits, or
// awaits later, returns websocket.disconnect with 1006 (no Close frame
// was exchanged, RFC 6455 §7.1.5), as Uvicorn's does. Without it that
// receive() would wait for ever, and the app's task with it.
func wsOver(c *pyshim.Conn) {
	c.Disconnect(1006, "")
}

// handshakeRefusal answers a handshake that RFC 6455 refuses.
func handshakeRefusal(he *websocket.HandshakeError) engine.Step {
	s := engine.Step{HasHead: true, Done: true, Body: []byte(he.Reason + "\n"),
		Status:  []byte(strconv.Itoa(he.Status) + " " + wsgi.ReasonPhrase(he.Status)),
		Headers: [][2][]byte{{[]byte("Content-Type"), []byte("text/plain; charset=utf-8")}}}
	for _, f := range he.Header {
		s.Headers = append(s.Headers, [2][]byte{[]byte(f[0]), []byte(f[1])})
	}
	return s
}

// accept turns websocket.accept into the engine's 101 Step; the session
// takes the Conn from the Caller, which serves other requests meanwhile.
func (w *asgiCaller) accept(c *pyshim.Conn, hs *websocket.Handshake, ev *pyshim.Sent) engine.Step {
	var deflate *websocket.DeflateParams
	if p, ok := websocket.NegotiateDeflate(hs.Extensions, websocket.DeflateOptions{}); ok {
		deflate = &p
	}
	resp := websocket.Response{Subprotocol: ev.Subprotocol, Deflate: deflate}
	for _, f := range ev.Headers {
		resp.Header = append(resp.Header, [2]string{string(f[0]), string(f[1])})
	}
	head, err := hs.AppendResponse(nil, resp)
	w.detach()
	w.complete = true
	if err != nil {
		c.Disconnect(1006, "")
		w.reap(c)
		return engine.Step{Failed: true, Traceback: "websocket.accept: " + err.Error()}
	}
	// What the app sent after websocket.accept in the same batch (a
	// greeting, even its close or its end) is the session's to send.
	early := slices.Clone(w.events[w.next:])
	w.next = len(w.events)
	s := &wsSession{c: c, early: early, deflate: deflate, limits: w.app.ws, log: w.app.log}
	return engine.Step{HasHead: true, Status: []byte("101 Switching Protocols"), Headers: headFields(head),
		Done: true, Upgrade: s.run}
}

// headFields are the fields of a response head ("HTTP/1.1 101 ...\r\n"
// then "Name: value\r\n" lines) but Connection, which the engine writes.
func headFields(head []byte) [][2][]byte {
	var fs [][2][]byte
	lines := bytes.Split(bytes.TrimSuffix(head, []byte("\r\n\r\n")), []byte("\r\n"))
	for _, l := range lines[1:] {
		name, value, ok := bytes.Cut(l, []byte(": "))
		if ok && !bytes.EqualFold(name, []byte("connection")) {
			fs = append(fs, [2][]byte{name, value})
		}
	}
	return fs
}

// wsSession is one accepted WebSocket, on the connection's goroutine.
type wsSession struct {
	c *pyshim.Conn
	// wants carries the app's waits in receive() from the session to the
	// reader (capacity 1): each says every message posted so far was
	// taken. stop ends a reader waiting for one.
	wants   chan struct{}
	stop    chan struct{}
	appDone bool          // SentDone was taken: the app's call is over
	early   []pyshim.Sent // events taken with websocket.accept, sent first
	deflate *websocket.DeflateParams
	limits  wsLimits
	log     zerolog.Logger
}

// run is the session: it writes what the app sends and the control
// frames the reader asks for, until the app's call is over and the close
// handshake done (or the connection is).
func (s *wsSession) run(u engine.Upgraded) {
	wr, err := websocket.NewWriter(s.deflate)
	if err != nil {
		s.c.Disconnect(1011, "")
		s.drain()
		return
	}
	o := &wsOut{wr: wr}
	control := make(chan []byte, 8)
	readerDone := make(chan struct{})
	s.wants, s.stop = make(chan struct{}, 1), make(chan struct{})
	go s.read(u, control, readerDone)
	var ping <-chan time.Time
	if s.limits.pingInterval > 0 {
		t := time.NewTicker(s.limits.pingInterval)
		defer t.Stop()
		ping = t.C
	}
	var evs []pyshim.Sent
	stopping := u.Stopping()
	var goingAway <-chan time.Time
	s.take(o, s.early)
	s.early = nil
	for !(s.appDone && o.closeSent) || len(o.buf) > 0 {
		if len(o.buf) > 0 {
			if !s.flush(u, o) {
				break
			}
			continue
		}
		select {
		case <-s.c.Ready():
			evs = s.c.Take(evs[:0])
			s.take(o, evs)
		case f := <-control:
			o.control(f)
		case <-ping:
			o.ping()
		case <-stopping: // a graceful stop: going away (RFC 6455 §7.4.1)
			// The loop answers with the Close (take), after the messages
			// the app sent before it learned; a loop that does not answer
			// in time gets it sent without them.
			stopping = nil
			s.c.GoAway(1001)
			t := time.NewTimer(wsGoAwayWait)
			defer t.Stop()
			goingAway = t.C
		case <-goingAway:
			goingAway = nil
			o.close(websocket.CloseCode(1001), "")
		case <-readerDone:
			readerDone = nil
			o.lastControl(control)
		}
	}
	if readerDone != nil {
		// The close handshake: let the client's Close arrive, briefly;
		// what the reader still asks to send is dropped, so it never
		// waits on control.
		u.SetReadDeadline(time.Now().Add(time.Second))
		close(s.stop)
		for readerDone != nil {
			select {
			case <-readerDone:
				readerDone = nil
			case <-control:
			}
		}
	}
	s.drain()
}

// read reads the client's frames: messages go to the app, pings and the
// close are answered through control. It ends at the client's close or
// when the connection fails, after telling the app (websocket.disconnect).
func (s *wsSession) read(u engine.Upgraded, control chan<- []byte, done chan<- struct{}) {
	defer close(done)
	r := websocket.NewReader(bufio.NewReaderSize(u, 4096),
		websocket.ReaderOptions{MaxMessage: s.limits.maxSize, Deflate: s.deflate})
	credits := wsReadAhead
	idle := time.Duration(0)
	if s.limits.pingInterval > 0 {
		idle = s.limits.pingInterval + s.limits.pingTimeout
	}
	for {
		if idle > 0 {
			u.SetReadDeadline(time.Now().Add(idle))
		}
		ev, err := r.Next()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				frame, _ := websocket.AppendClose(nil, ce.Code, ce.Reason)
				control <- frame
				s.c.Disconnect(int(ce.Code), ce.Reason)
				return
			}
			if idle > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
				// Pinged and silent for --ws-ping-timeout: a Close 1011
				// goes out before the connection does, as Uvicorn's
				// (websockets') keepalive sends one.
				frame, _ := websocket.AppendClose(nil, 1011, "keepalive ping timeout")
				control <- frame
				s.c.Disconnect(1006, "")
				return
			}
			s.c.Disconnect(1006, "")
			control <- nil
			return
		}
		switch ev.Op {
		case websocket.OpText, websocket.OpBinary:
			if credits == 0 { // the app has not taken what it was given
				select {
				case <-s.wants:
					credits = wsReadAhead
				case <-s.stop:
					return
				}
			}
			credits--
			s.c.Message(ev.Op == websocket.OpText, ev.Data)
		case websocket.OpPing:
			control <- websocket.AppendPong(nil, ev.Data)
		case websocket.OpClose:
			code := ev.Code
			frame, _ := websocket.AppendClose(nil, echoCode(code), "")
			control <- frame
			s.c.Disconnect(int(code), string(ev.Data))
			return
		}
	}
}

// wsReadAhead is how many messages the reader gives the app before it
// waits for the app to take them (a wait in receive() on an empty
// queue): the messages of a client that sends faster than its app reads
// wait in the kernel's buffers and then in the client, not in the
// worker's memory.
const wsReadAhead = 16

// wsGoAwayWait bounds how long a graceful stop waits for the loop to
// answer its going-away (Conn.GoAway) before the 1001 Close goes out
// without it: an answer normally takes one turn of the loop, and a loop
// stuck in the app's code would keep the client waiting for the Close.
const wsGoAwayWait = time.Second

// echoCode is the code a server answers a client's Close with: the same
// (RFC 6455 §5.5.1), or 1000 when the client gave none.
func echoCode(code websocket.CloseCode) websocket.CloseCode {
	if code == websocket.CloseNoStatus {
		return websocket.CloseCode(1000)
	}
	return code
}

// drain waits for the app's call to end after the session, and logs
// what it raised.
func (s *wsSession) drain() {
	if s.appDone {
		return
	}
	for i := range s.early { // the session failed before it sent them
		if s.early[i].Kind == pyshim.SentDone {
			logDone(s.log, &s.early[i])
			return
		}
	}
	var evs []pyshim.Sent
	for range s.c.Ready() {
		evs = s.c.Take(evs[:0])
		for i := range evs {
			if evs[i].Kind == pyshim.SentDone {
				logDone(s.log, &evs[i])
				return
			}
		}
	}
}
