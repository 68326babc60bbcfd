package engine

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/httpparse"
	"github.com/gowsgi/gowsgi/httpparse/uwsgiproto"
	"github.com/gowsgi/gowsgi/wsgi"
	"golang.org/x/sys/unix"
)

// conn is one client connection, owned by its serve goroutine. Only
// idle and the deadline it sets are touched by another goroutine
// (drain), under mu.
type conn struct {
	srv    *Server
	nc     *sock // never nil
	br     *bufio.Reader
	reader *httpparse.Reader
	info   wsgi.Conn
	req    httpparse.Request
	appReq Request // what the app is given of req: fillRequest
	body   requestBody
	acc    accessRecord       // the response being answered, for the access log
	accPy  accessPython       // its record for Python's logging: accesspy.go
	uwsgi  *uwsgiproto.Packet // the request of a --protocol uwsgi connection; nil for HTTP
	rid    []byte             // the request's id once ensureRequestID set it
	ridBuf [32]byte           // storage for an id made here
	// fwdTrust: whether the peer is trusted with X-Forwarded headers;
	// 0 until asked, then 1 or -1 (forwardedTrusted).
	fwdTrust int8
	w        bodyWriter
	out      outbox
	hold     holder      // sends held bytes while the app runs
	watch    clientWatch // watches for the client going away while the app waits: watch.go
	guard    panicGuard  // the request a panic would leave behind: containPanic
	// resp is the response being sent (respond), kept here rather than
	// allocated per request; writeHook is resp's earlyWrite, bound once
	// per conn, for the same reason.
	resp      streamer
	writeHook func(Step) bool
	// Scratch for one response step's buffers, and for those plus the
	// outbox, so that framing a step allocates nothing.
	step [maxIov][]byte
	send [maxIov][]byte

	// hooked and hookedInfo are req and info as a pre_request hook
	// changed them, which appReq then points at (hookchange.go); req
	// stays the client's. Written under mu while a request is live.
	hooked     httpparse.Request
	hookedInfo wsgi.Conn

	// offered is the descriptor the request running may take over
	// (takeover.go), -1 when none; blocking: the app may have made it
	// blocking, and it is not yet reclaimed. Serve goroutine only.
	offered  int
	blocking bool
	// passed: a sibling worker passed the connection here (pass.go),
	// after its PROXY header if it had one. Serve goroutine only.
	passed bool

	// lastEnd is when the last response was done: the start of the wait
	// for the next request, without reading the clock again.
	lastEnd time.Time

	mu    sync.Mutex
	idle  bool // guarded by mu: waiting for the first byte of a request
	fresh bool // guarded by mu: no request has begun on the connection yet
	// inHead: reading a request head that was not whole in the buffer;
	// since: when the connection was accepted (fresh), went idle, or
	// began that head (Unix ns); evicted: makeRoom cut its wait.
	// Guarded by mu.
	inHead  bool
	since   int64
	evicted evictReason
	// client is the client's address for fairness in makeRoom: the
	// PROXY protocol's source when there is one. Guarded by mu.
	client string
	// offerLive: the request running was offered the descriptor and has
	// not ended; a graceful stop then shuts its read side. Guarded by mu.
	offerLive bool
}

// open readies c, new or the storage of a connection that ended, to
// serve the socket sk: its buffers stay, its state starts afresh.
// A new conn gets its read buffer only once its client sends a byte
// (newReader), so a connection that never does costs no buffer.
func (c *conn) open(s *Server, sk *sock, now time.Time) {
	if c.br != nil {
		c.br.Reset(sk)
		c.reader.Reset()
	}
	c.srv, c.nc = s, sk
	c.appReq.c = c
	if c.writeHook == nil {
		c.writeHook = c.writeEarly
	}
	c.info = s.connInfo(sk)
	c.req = httpparse.Request{Headers: c.req.Headers[:0]}
	c.body = requestBody{}
	c.acc = accessRecord{respHeaders: c.acc.respHeaders[:0], headerBuf: c.acc.headerBuf[:0]}
	c.uwsgi, c.rid, c.fwdTrust = nil, nil, 0
	c.w = bodyWriter{}
	c.out.reset()
	c.out.limit, c.out.budget = s.cfg.ResponseBuffer, &s.outboxes
	c.hold.start(c)
	c.lastEnd = time.Time{}
	c.offered, c.blocking, c.offerLive, c.passed = -1, false, false, false
	c.idle, c.fresh = false, true
	c.inHead, c.since, c.evicted = false, now.UnixNano(), notEvicted
	c.client = c.info.RemoteAddr
}

// readBufferSize is a connection's read buffer: a request head that
// fits is parsed without waiting on the client (headBuffered).
const readBufferSize = 4096

// newReader gives the connection its read buffer and parser.
func (c *conn) newReader() {
	c.br = bufio.NewReaderSize(c.nc, readBufferSize)
	c.reader = httpparse.NewReader(c.br, c.srv.limits)
}

// wakeIfIdle cuts the wait of a connection idle between requests to
// the retirement's idle deadline (retireIdleBy), so a graceful stop waits
// for idle clients no longer than that.
func (c *conn) wakeIfIdle() {
	c.mu.Lock()
	if c.idle {
		c.nc.SetReadDeadline(earliest(c.nc.readDeadline(), c.srv.retireIdleBy(c.fresh)))
	}
	c.mu.Unlock()
}

// beginIdle marks the connection idle and sets the deadline for the
// next request's first byte: timeout from now (0 = none), and once a
// graceful stop has begun no later than its idle deadline (retireIdleBy).
func (c *conn) beginIdle(now time.Time, timeout time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var deadline time.Time
	if timeout > 0 {
		deadline = now.Add(timeout)
	}
	if !c.fresh {
		c.since = now.UnixNano()
	}
	select {
	case <-c.srv.stop:
		c.nc.SetReadDeadline(earliest(deadline, c.srv.retireIdleBy(c.fresh)))
	default:
		c.nc.setReadDeadlineNear(deadline, timeout/deadlineSlack)
	}
	c.idle = true
}

// endIdle ends the wait for a request; err is how it ended. A wait that
// makeRoom cut but that met a request all the same goes on as if it had
// not been cut (makeRoom).
func (c *conn) endIdle(err error) {
	c.mu.Lock()
	fresh, ev := c.fresh, c.evicted
	c.idle, c.fresh = false, false
	if err == nil {
		c.evicted = notEvicted
	}
	c.mu.Unlock()
	if ev != notEvicted {
		c.srv.evictPending.Add(-1)
	}
	switch {
	case err == nil && ev != notEvicted:
		c.nc.SetReadDeadline(time.Time{})
	case err != nil:
		c.srv.noteWaitEnd(err, fresh, ev)
	}
}

// serve reads requests one after another (pipelined ones in order) and
// answers each, until the client or a rule ends the connection.
func (c *conn) serve() {
	defer c.srv.forget(c)
	defer c.nc.Close()
	defer c.out.reset()
	defer c.containPanic() // first of the defers to run
	if !c.passed && !c.acceptProxyHeader() {
		return
	}
	if c.nc.tlsFront != nil && !c.startTLS() {
		return
	}
	if c.srv.uwsgi != nil {
		c.serveUwsgi()
		return
	}
	for first := true; ; first = false {
		wait := c.srv.cfg.KeepAlive
		if first {
			wait = c.srv.firstByteTimeout
		} else if wait <= 0 && c.br.Buffered() == 0 {
			return // keep-alive is off: only pipelined requests follow
		}
		if !c.awaitRequest(wait) {
			return
		}
		if c.awaitThreadOrPass() {
			return // a sibling serves it now
		}
		slow := !c.headBuffered()
		if slow {
			c.beginHead()
		}
		err := c.reader.ReadRequest(&c.req)
		if slow {
			c.endHead(err)
		}
		if err == nil && c.refusedHeaderName() { // headermap.go
			err = errUnderscoreHeader
		}
		if err != nil {
			c.reject(err)
			return
		}
		if c.overConcurrency() {
			return
		}
		if err := c.readBody(); err != nil {
			c.body.release()
			c.reject(err)
			return
		}
		keep := c.respond()
		c.body.release()
		// A retiring worker answers with Connection: close (begin), so
		// keep is false; a response whose head went out before the
		// retirement began keeps the connection for one more request:
		// the client may already be sending it (beginRetirement).
		if !keep || !c.req.Body.Done() {
			return
		}
	}
}

// overConcurrency applies --limit-concurrency (Uvicorn's) to the request
// whose head was just read: while more connections than that are open
// in the worker, idle ones included, it answers 503 and closes, and
// reports true. Uvicorn's own count includes the connection asking, so
// there N-1 connections are served; here N are. In HTTP/1.1 a request
// in progress holds its connection, so the connections bound the
// requests as well (Uvicorn also counts its tasks).
func (c *conn) overConcurrency() bool {
	limit := int64(c.srv.cfg.LimitConcurrency)
	if limit == 0 || c.srv.openConns.Load() <= limit {
		return false
	}
	c.writeError(http.StatusServiceUnavailable, "Too many connections; try again later.")
	return true
}

// readDeadline bounds the next reads to about timeout from now
// (setReadDeadlineNear); 0 = none.
func (c *conn) readDeadline(timeout time.Duration) {
	var t time.Time
	if timeout > 0 {
		t = time.Now().Add(timeout)
	}
	c.nc.setReadDeadlineNear(t, timeout/deadlineSlack)
}

// headBuffered reports whether the read buffer holds a whole request
// head, which the parser then reads without waiting on the client: no
// header deadline is needed.
func (c *conn) headBuffered() bool {
	b, _ := c.br.Peek(c.br.Buffered())
	return bytes.Contains(b, headEnd)
}

var headEnd = []byte("\r\n\r\n")

// awaitRequest waits up to timeout (0 = no limit) for the first byte of
// the next request, marked idle so a graceful stop can interrupt it.
func (c *conn) awaitRequest(timeout time.Duration) bool {
	if c.br != nil && c.br.Buffered() > 0 {
		return true // pipelined: already here
	}
	now := c.lastEnd
	if now.IsZero() {
		now = time.Now()
	}
	c.beginIdle(now, timeout)
	err := c.peekRequest()
	if err != nil && (c.srv.isDraining() || c.isEvicted()) && c.nc.unread() > 0 {
		// The retirement's or an eviction's deadline met a request as it
		// arrived: serve it.
		if c.br == nil {
			c.newReader()
		}
		c.readDeadline(c.srv.headerTimeout)
		_, err = c.br.Peek(1)
	}
	c.endIdle(err)
	return err == nil
}

// freshHold is how long a new connection waiting for its first request
// still counts as load. The request is normally on its way already; if
// the wait released the load at once, the accept gate would take
// connection after connection before the first one got its turn, and a
// burst of new connections would all land on the worker that woke
// first instead of being shared by the workers.
const freshHold = 5 * time.Millisecond

// freshHoldSpare: new connections are held while at most --threads plus
// this many wait for their first byte.
const freshHoldSpare = 8

// peekRequest waits for the first byte of a request; on a fresh
// connection with freshHold counted as load.
func (c *conn) peekRequest() error {
	c.mu.Lock()
	fresh := c.fresh
	c.mu.Unlock()
	if !fresh {
		_, err := c.br.Peek(1)
		return err
	}
	// Held only while few new connections wait for their first byte:
	// clients send it at once, and a flood of connections that send
	// nothing would otherwise each keep the accept gate shut for
	// freshHold, and a normal client would wait behind them in the
	// listen queue.
	waiting := c.srv.freshWaiting.Add(1)
	defer c.srv.freshWaiting.Add(-1)
	var t *time.Timer
	if waiting <= c.srv.gate.limit+freshHoldSpare {
		c.nc.hold = true
		t = time.AfterFunc(freshHold, c.nc.releaseHold)
	}
	var err error
	if c.br == nil {
		if err = c.nc.waitReadable(); err == nil {
			c.newReader()
		}
	}
	if err == nil {
		_, err = c.br.Peek(1)
	}
	if t != nil {
		t.Stop()
		c.nc.hold = false
	}
	return err
}

// reject answers a request that could not be read. Only parse errors and
// a body that could not be stored get an answer: the framing is unknown
// afterwards, so the connection closes.
func (c *conn) reject(err error) {
	var perr *httpparse.Error
	switch {
	case errors.As(err, &perr):
		c.srv.log.Info().Int("status", perr.Status).Str("reason", perr.Reason).
			Str("remote", c.info.RemoteAddr).Msg("bad request")
		c.writeError(perr.Status, perr.Reason)
	case errors.Is(err, errBodyStore):
		c.srv.log.Error().Err(err).Msg("cannot accept an upload")
		c.writeError(http.StatusInternalServerError, "The request body could not be stored.")
	}
	// EOF, timeout or reset: nobody to answer
}

// writeError sends a complete plain-text error response and asks the
// client to close. reason must be client-safe (it never echoes input).
func (c *conn) writeError(status int, reason string) {
	c.writeErrorWithID(status, reason, nil)
}

// writeAppError is writeError for a request that was read whole and
// given to the app, so the response carries its request id; a request
// that could not be parsed has none (its headers are not trustworthy).
func (c *conn) writeAppError(status int, reason string) {
	c.writeErrorWithID(status, reason, c.requestIDBytes())
}

func (c *conn) writeErrorWithID(status int, reason string, id []byte) {
	c.out.reset()
	body := strconv.Itoa(status) + " " + statusText(status) + "\n" + reason + "\n"
	fields := [][2][]byte{{[]byte("Content-Type"), []byte("text/plain; charset=utf-8")}}
	if len(id) > 0 {
		name, _ := c.srv.requestIDName()
		fields = append(fields, [2][]byte{name, id})
	}
	// --response-header's fields go on gowsgi's own answers too, as
	// Uvicorn's on its 400s; a Server one replaces gowsgi's.
	fields = c.srv.defaults.add(fields)
	head := "HTTP/1.1 " + strconv.Itoa(status) + " " + statusText(status) + "\r\n" +
		"Date: " + string(c.srv.dates.Get(time.Now())) + "\r\n"
	if !hasField(fields, "server") {
		head += "Server: gowsgi\r\n"
	}
	for _, f := range fields {
		head += string(f[0]) + ": " + string(f[1]) + "\r\n"
	}
	head += "Content-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n"
	c.nc.writeAll([][]byte{[]byte(head + "\r\n" + body)}, c.srv.writeTimeout)
	c.noteError(status, len(body))
	c.lingeringClose()
}

// Lingering close bounds: how long and how much of what the client still
// sends is read and dropped after an error response.
const (
	lingerTimeout = 500 * time.Millisecond
	lingerBytes   = 256 << 10
)

// lingeringClose half-closes the connection and drops what the client
// still sends for a moment before serve closes it. Closing with unread
// input makes the kernel answer with a reset, which can destroy the
// error response in the client's buffers before it reads it (RFC 9112
// §9.6); a rejected request usually leaves input unread.
//
// On TLS the close_notify alert goes first (RFC 8446 §6.1: it is sent
// before the write side closes; after the shutdown it could not be, and
// the client saw a truncated stream), waiting for the socket at most
// lingerTimeout, and the drain then reads the raw socket.
func (c *conn) lingeringClose() {
	deadline := time.Now().Add(lingerTimeout)
	r := c.shutWrite(deadline)
	c.nc.SetReadDeadline(deadline)
	io.CopyN(io.Discard, r, lingerBytes)
}

// shutWrite closes the connection's write side for a lingering close:
// on TLS the close_notify alert first, waiting for the socket until
// deadline (RFC 8446 §6.1: after the shutdown it could not be sent, and
// the client would see the stream cut), then the socket's. It returns
// where to read what the client still sends: the raw socket under TLS,
// as that is dropped undecrypted.
func (c *conn) shutWrite(deadline time.Time) io.Reader {
	var r io.Reader = c.nc
	if l := c.nc.tls; l != nil {
		l.closeNotifyBy(deadline)
		r = rawReader{c.nc}
	}
	if rc, err := c.nc.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_WR) })
	}
	return r
}
