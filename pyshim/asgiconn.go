package pyshim

/*
#include "asgi.h"
*/
import "C"

import (
	"encoding/binary"
	"os"
	"strconv"
	"sync"
)

// Scope is what the connection side knows of a request, from which the
// loop builds the ASGI scope (ASGI HTTP and WebSocket specs 2.4,
// "Connection Scope"): path is RawPath percent-decoded and read as
// UTF-8, header names are lower-cased, client and server are (host,
// port) lists, and state is a shallow copy of the lifespan state.
type Scope struct {
	HTTPVersion string // "1.0", "1.1"
	Method      string // HTTP only
	Scheme      string // "http", "https"; "ws", "wss" for a WebSocket
	RawPath     []byte // the request target's path, as sent, without the query
	Path        []byte // the decoded path when known (uwsgi); nil: RawPath percent-decoded
	Query       []byte // after "?", as sent, without it
	RootPath    string // SCRIPT_NAME: where the app is mounted
	Headers     [][2][]byte
	Client      Addr
	Server      Addr
}

// Addr is a scope's client or server. Host "" means unknown (None in
// the scope); Port < 0 means none, as for a unix socket, where Host is
// its path (Uvicorn's [path, None]).
type Addr struct {
	Host string
	Port int
}

// SentKind says what the app sent.
type SentKind int

// The kinds of Sent (asgi.h GW_OUT_*).
const (
	SentStart    SentKind = C.GW_OUT_START    // http.response.start (or websocket.http.response.start)
	SentBody     SentKind = C.GW_OUT_BODY     // http.response.body (or websocket.http.response.body)
	SentTrailers SentKind = C.GW_OUT_TRAILERS // http.response.trailers
	SentPathSend SentKind = C.GW_OUT_PATHSEND // http.response.pathsend
	SentDone     SentKind = C.GW_OUT_DONE     // the app returned or raised; the last event
	SentWSAccept SentKind = C.GW_OUT_WS_ACCEPT
	SentWSSend   SentKind = C.GW_OUT_WS_SEND
	SentWSClose  SentKind = C.GW_OUT_WS_CLOSE
	SentWant     SentKind = C.GW_OUT_WANT     // the app waits in receive(): deliver the next event
	SentZeroCopy SentKind = C.GW_OUT_ZEROCOPY // http.response.zerocopysend
	SentInfo     SentKind = C.GW_OUT_INFO     // http.response.informational (103 Early Hints)
)

// Sent is one event the app sent, or the end of its call. Its slices
// are copies: the caller owns them.
type Sent struct {
	Kind SentKind
	// Status: the response status (SentStart, SentInfo); the close code
	// (SentWSClose); for SentDone how far the response got: 0 nothing
	// sent, 1 started, 2 complete (HTTP). For a WebSocket's SentDone:
	// 0 connecting, 1 accepted, 2 closed, 3 denial started, 4 denied.
	Status  int
	Headers [][2][]byte // SentStart, SentInfo, SentTrailers, SentWSAccept
	Body    []byte      // SentBody, SentWSSend
	// More: more body (SentBody) or trailers (SentTrailers) follow.
	More bool
	// Trailers: SentStart announced http.response.trailers.
	Trailers bool
	Text     bool   // SentWSSend: a text message (valid UTF-8)
	Path     string // SentPathSend
	// File, Offset and Count: SentZeroCopy's region, More as for
	// SentBody. File is a duplicate of the app's descriptor, the
	// taker's to close (CloseFiles).
	File          *os.File
	Offset, Count int64
	Subprotocol   string // SentWSAccept; "" for none
	Reason        string // SentWSClose
	// Traceback: SentDone of an app that raised or broke the protocol.
	Traceback string
	// ClientGone: SentDone after the connection was reported gone.
	ClientGone bool
}

// The HTTP SentDone statuses.
const (
	DoneNothingSent = 0
	DoneStarted     = 1
	DoneComplete    = 2
)

// Conn is one app call on the loop: an HTTP request or a WebSocket. The
// connection's goroutine delivers events to it (Body, Disconnect,
// Message) and takes what the app sent (Ready, Take) until SentDone.
type Conn struct {
	l      *Loop  // immutable
	id     uint64 // immutable; 0 is the lifespan's
	budget int    // immutable: bytes the queue holds before send() awaits
	// method and target are a WebSocket's request, for the --timeout
	// log (Request); immutable. An HTTP request's the engine's slot knows.
	method, target string

	mu    sync.Mutex
	queue []Sent // guarded by mu: sent, not yet taken
	// owed is guarded by mu: the cost (asgiout.c) of the events the app
	// sent that Go has not yet credited back with GW_IN_WRITABLE. The
	// app counts the same way and awaits in send() while it owes a
	// whole budget.
	owed  int
	done  bool    // guarded by mu: SentDone is queued
	first [4]Sent // queue's first backing array: a response's usual events
	ready chan struct{}
}

// OpenHTTP starts the app for one HTTP request. budget bounds the
// bytes of the app's events held for the connection before its send()
// awaits.
func (l *Loop) OpenHTTP(s *Scope, budget int) (*Conn, error) {
	return l.open(s, C.GW_IN_HTTP, budget)
}

// OpenWebSocket starts the app for a WebSocket handshake; the app's
// first receive() returns websocket.connect.
func (l *Loop) OpenWebSocket(s *Scope, budget int) (*Conn, error) {
	return l.open(s, C.GW_IN_WS, budget)
}

func (l *Loop) open(s *Scope, kind int, budget int) (*Conn, error) {
	c := &Conn{l: l, budget: max(budget, 1), ready: make(chan struct{}, 1)}
	c.queue = c.first[:0]
	if kind == C.GW_IN_WS { // one string per session, which may last hours
		c.method, c.target = "GET", string(s.RawPath)
		if len(s.Query) > 0 {
			c.target += "?" + string(s.Query)
		}
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrLoopStopped
	}
	l.nextID++
	c.id = l.nextID
	l.conns[c.id] = c
	l.mu.Unlock()
	buf := scopeBufs.Get().(*[]byte)
	*buf = encodeScope((*buf)[:0], s)
	err := l.post(c.id, kind, 0, int64(c.budget), *buf)
	if cap(*buf) <= 64<<10 {
		scopeBufs.Put(buf)
	}
	if err != nil {
		l.forget(c.id)
		return nil, err
	}
	return c, nil
}

func (l *Loop) forget(id uint64) {
	l.mu.Lock()
	delete(l.conns, id)
	l.noteCallsEnded()
	l.mu.Unlock()
}

// Request is a WebSocket's request line: "GET" and its target; "" for
// an HTTP request, which holds an engine slot that knows it.
func (c *Conn) Request() (method, target string) { return c.method, c.target }

// Ready is signalled when events may be waiting for Take.
func (c *Conn) Ready() <-chan struct{} { return c.ready }

// Take appends the events the app sent since the last Take to dst and
// returns it; once SentDone is among them, the Conn is over. Taking
// frees the budget: once half of it is owed, it is credited back
// (GW_IN_WRITABLE), and an app waiting in send() resumes. Crediting by
// halves keeps a stream that Go takes as fast as it comes from costing
// a loop wake-up per Take.
func (c *Conn) Take(dst []Sent) []Sent {
	c.mu.Lock()
	dst = append(dst, c.queue...)
	clear(c.queue)
	c.queue = c.queue[:0]
	credit := 0
	if c.owed >= max(c.budget/2, 1) && !c.done {
		credit, c.owed = c.owed, 0
	}
	c.mu.Unlock()
	if credit > 0 {
		c.l.post(c.id, C.GW_IN_WRITABLE, 0, int64(credit), nil)
	}
	return dst
}

// push queues ev, which cost the app's budget that much. The Loop's
// dispatching goroutine.
func (c *Conn) push(ev Sent, cost int) {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return
	}
	c.queue = append(c.queue, ev)
	c.owed += cost
	c.mu.Unlock()
	c.signal()
}

// want queues SentWant, once while it is not taken.
func (c *Conn) want() {
	c.mu.Lock()
	if k := len(c.queue); k > 0 && c.queue[k-1].Kind == SentWant || c.done {
		c.mu.Unlock()
		return
	}
	c.queue = append(c.queue, Sent{Kind: SentWant})
	c.mu.Unlock()
	c.signal()
}

// finish queues SentDone and forgets the Conn. The Loop's dispatching
// goroutine, or the loop's once it ended.
func (c *Conn) finish(ev Sent) {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return
	}
	c.done = true
	c.queue = append(c.queue, ev)
	c.mu.Unlock()
	c.l.forget(c.id)
	c.signal()
}

func (c *Conn) signal() {
	select {
	case c.ready <- struct{}{}:
	default:
	}
}

// Body delivers request body bytes (http.request); more is false with
// the last. data is copied.
func (c *Conn) Body(data []byte, more bool) error {
	flags := 0
	if more {
		flags = C.GW_IF_MORE
	}
	return c.l.post(c.id, C.GW_IN_BODY, flags, 0, data)
}

// Message delivers one whole WebSocket message (websocket.receive).
func (c *Conn) Message(text bool, data []byte) error {
	flags := 0
	if text {
		flags = C.GW_IF_TEXT
	}
	return c.l.post(c.id, C.GW_IN_WS_MESSAGE, flags, 0, data)
}

// Disconnect tells the app the client is gone: http.disconnect, or
// websocket.disconnect with code and reason. Its pending and later
// send() calls raise ClientDisconnected (an OSError; HTTP spec 2.4).
func (c *Conn) Disconnect(code int, reason string) error {
	return c.l.post(c.id, C.GW_IN_DISCONNECT, 0, int64(code), []byte(reason))
}

// GoAway ends a WebSocket from the server's side: the app gets
// websocket.disconnect with code, and the loop answers with a
// SentWSClose of that code, after every message the app sent before it
// learned (send() refuses from then on). The session sends its Close
// on that answer, so no message the app was told it sent is dropped.
func (c *Conn) GoAway(code int) error {
	return c.l.post(c.id, C.GW_IN_DISCONNECT, C.GW_IF_CLOSE, int64(code), nil)
}

// Cancel cancels the app's task (asyncio Task.cancel): CancelledError
// is raised at the await it waits in, and SentDone carries its
// traceback, which shows where. For --request-timeout; a handler that
// never awaits (CPU-bound on the loop) sees it only when it does.
func (c *Conn) Cancel() error {
	return c.l.post(c.id, C.GW_IN_CANCEL, 0, 0, nil)
}

// scopeBufs keeps encodeScope's buffers between requests: post copies
// the bytes into the C queue at once.
var scopeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// encodeScope appends s in the layout asgiscope.c reads: fields as
// [u32 length][bytes], native byte order, with no allocation of its own.
func encodeScope(b []byte, s *Scope) []byte {
	b = appendField(b, s.HTTPVersion)
	b = appendField(b, s.Method)
	b = appendField(b, s.Scheme)
	if s.Path != nil {
		b = appendField(b, s.Path)
	} else {
		at := len(b)
		b = appendPercentDecoded(binary.NativeEndian.AppendUint32(b, 0), s.RawPath)
		binary.NativeEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	}
	b = appendField(b, s.RawPath)
	b = appendField(b, s.Query)
	b = appendField(b, s.RootPath)
	b = appendAddr(b, s.Client)
	b = appendAddr(b, s.Server)
	b = binary.NativeEndian.AppendUint32(b, 4)
	b = binary.NativeEndian.AppendUint32(b, uint32(len(s.Headers)))
	for _, h := range s.Headers {
		at := len(b) + 4
		b = appendField(b, h[0])
		for i, c := range b[at:] {
			if 'A' <= c && c <= 'Z' {
				b[at+i] = c + 'a' - 'A'
			}
		}
		b = appendField(b, h[1])
	}
	return b
}

func appendField[T string | []byte](b []byte, v T) []byte {
	b = binary.NativeEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// appendAddr appends host and port; the port is empty when unknown or
// for a unix socket.
func appendAddr(b []byte, a Addr) []byte {
	b = appendField(b, a.Host)
	at := len(b)
	b = binary.NativeEndian.AppendUint32(b, 0)
	if a.Port >= 0 && a.Host != "" {
		b = strconv.AppendInt(b, int64(a.Port), 10)
		binary.NativeEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	}
	return b
}

// percentDecode decodes %XX escapes; a "%" not followed by two hex
// digits stays as it is (urllib.parse.unquote's rule, which Uvicorn
// uses): "/a%20b%zz" -> "/a b%zz".
func percentDecode(p []byte) []byte { return appendPercentDecoded(nil, p) }

func appendPercentDecoded(out, p []byte) []byte {
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			out = append(out, unhex(p[i+1])<<4|unhex(p[i+2]))
			i += 2
			continue
		}
		out = append(out, p[i])
	}
	return out
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
