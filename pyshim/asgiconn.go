package pyshim

/*
#include "asgi.h"
*/
import "C"

import (
	"encoding/binary"
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
	SentWant     SentKind = C.GW_OUT_WANT // the app waits in receive(): deliver the next event
)

// Sent is one event the app sent, or the end of its call. Its slices
// are copies: the caller owns them.
type Sent struct {
	Kind SentKind
	// Status: the response status (SentStart); the close code
	// (SentWSClose); for SentDone how far the response got: 0 nothing
	// sent, 1 started, 2 complete (HTTP). For a WebSocket's SentDone:
	// 0 connecting, 1 accepted, 2 closed, 3 denial started, 4 denied.
	Status  int
	Headers [][2][]byte // SentStart, SentTrailers, SentWSAccept
	Body    []byte      // SentBody, SentWSSend
	// More: more body (SentBody) or trailers (SentTrailers) follow.
	More bool
	// Trailers: SentStart announced http.response.trailers.
	Trailers    bool
	Text        bool   // SentWSSend: a text message (valid UTF-8)
	Path        string // SentPathSend
	Subprotocol string // SentWSAccept; "" for none
	Reason      string // SentWSClose
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

	mu     sync.Mutex
	queue  []Sent // guarded by mu: sent, not yet taken
	queued int    // guarded by mu: bytes of body and headers in queue
	paused bool   // guarded by mu: the app's send() awaits GW_IN_WRITABLE
	done   bool   // guarded by mu: SentDone is queued
	ready  chan struct{}
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
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrLoopStopped
	}
	l.nextID++
	c.id = l.nextID
	l.conns[c.id] = c
	l.mu.Unlock()
	if err := l.post(c.id, kind, 0, 0, encodeScope(nil, s)); err != nil {
		l.forget(c.id)
		return nil, err
	}
	return c, nil
}

func (l *Loop) forget(id uint64) {
	l.mu.Lock()
	delete(l.conns, id)
	l.mu.Unlock()
}

// Ready is signalled when events may be waiting for Take.
func (c *Conn) Ready() <-chan struct{} { return c.ready }

// Take appends the events the app sent since the last Take to dst and
// returns it; once SentDone is among them, the Conn is over. Taking
// frees the budget: an app waiting in send() resumes.
func (c *Conn) Take(dst []Sent) []Sent {
	c.mu.Lock()
	dst = append(dst, c.queue...)
	clear(c.queue)
	c.queue = c.queue[:0]
	c.queued = 0
	resume := c.paused && !c.done
	c.paused = false
	c.mu.Unlock()
	if resume {
		c.l.post(c.id, C.GW_IN_WRITABLE, 0, 0, nil)
	}
	return dst
}

// push queues ev and returns what the app's send() does next: 1 go on,
// 0 wait for room (GW_IN_WRITABLE). Loop thread, GIL held.
func (c *Conn) push(ev Sent) int {
	n := len(ev.Body)
	for _, h := range ev.Headers {
		n += len(h[0]) + len(h[1])
	}
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return -1
	}
	c.queue = append(c.queue, ev)
	c.queued += n
	full := c.queued >= c.budget
	if full {
		c.paused = true
	}
	c.mu.Unlock()
	c.signal()
	if full {
		return 0
	}
	return 1
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

// finish queues SentDone and forgets the Conn. Loop thread (or the
// loop's goroutine once it ended).
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

// Cancel cancels the app's task (asyncio Task.cancel): CancelledError
// is raised at the await it waits in, and SentDone carries its
// traceback, which shows where. For --request-timeout; a handler that
// never awaits (CPU-bound on the loop) sees it only when it does.
func (c *Conn) Cancel() error {
	return c.l.post(c.id, C.GW_IN_CANCEL, 0, 0, nil)
}

// encodeScope appends s in the layout asgi.py's decode_scope reads:
// fields as [u32 length][bytes], native byte order.
func encodeScope(b []byte, s *Scope) []byte {
	put := func(v []byte) {
		b = binary.NativeEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	putAddr := func(a Addr) {
		put([]byte(a.Host))
		if a.Port >= 0 && a.Host != "" {
			put(strconv.AppendInt(nil, int64(a.Port), 10))
		} else {
			put(nil)
		}
	}
	put([]byte(s.HTTPVersion))
	put([]byte(s.Method))
	put([]byte(s.Scheme))
	if s.Path != nil {
		put(s.Path)
	} else {
		put(percentDecode(s.RawPath))
	}
	put(s.RawPath)
	put(s.Query)
	put([]byte(s.RootPath))
	putAddr(s.Client)
	putAddr(s.Server)
	put(binary.NativeEndian.AppendUint32(nil, uint32(len(s.Headers))))
	for _, h := range s.Headers {
		put(lowerASCII(h[0]))
		put(h[1])
	}
	return b
}

// percentDecode decodes %XX escapes; a "%" not followed by two hex
// digits stays as it is (urllib.parse.unquote's rule, which Uvicorn
// uses): "/a%20b%zz" -> "/a b%zz".
func percentDecode(p []byte) []byte {
	i := 0
	for i < len(p) && p[i] != '%' {
		i++
	}
	if i == len(p) {
		return p
	}
	out := append(make([]byte, 0, len(p)), p[:i]...)
	for ; i < len(p); i++ {
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

// lowerASCII returns b with A-Z lower-cased (a copy only when needed).
func lowerASCII(b []byte) []byte {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			out := append([]byte(nil), b...)
			for j := i; j < len(out); j++ {
				if c := out[j]; 'A' <= c && c <= 'Z' {
					out[j] = c + 'a' - 'A'
				}
			}
			return out
		}
	}
	return b
}

// decodeHeaders reads n [u32 len][name][u32 len][value] records.
func decodeHeaders(b []byte, n int) [][2][]byte {
	hs := make([][2][]byte, 0, n)
	for range n {
		k := binary.NativeEndian.Uint32(b)
		name := b[4 : 4+k : 4+k]
		b = b[4+k:]
		m := binary.NativeEndian.Uint32(b)
		hs = append(hs, [2][]byte{name, b[4 : 4+m : 4+m]})
		b = b[4+m:]
	}
	return hs
}
