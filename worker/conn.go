package worker

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/httpparse"
	"github.com/gowsgi/gowsgi/httpparse/uwsgiproto"
	"github.com/gowsgi/gowsgi/wsgi"
)

// conn is one client connection, owned by its serve goroutine. Only
// idle and the deadline it sets are touched by another goroutine
// (drain), under mu.
type conn struct {
	srv    *server
	nc     net.Conn
	br     *bufio.Reader
	reader *httpparse.Reader
	info   wsgi.Conn
	req    httpparse.Request
	env    wsgi.Environ
	acc    accessRecord       // the response being answered, for the access log
	uwsgi  *uwsgiproto.Packet // the request of a --protocol uwsgi connection; nil for HTTP

	mu   sync.Mutex
	idle bool // guarded by mu: waiting for the first byte of a request
}

// wakeIfIdle makes a connection that waits between requests give up,
// so a graceful stop does not wait for idle keep-alive clients.
func (c *conn) wakeIfIdle() {
	c.mu.Lock()
	if c.idle {
		c.nc.SetReadDeadline(time.Now())
	}
	c.mu.Unlock()
}

func (c *conn) setIdle(idle bool) {
	c.mu.Lock()
	c.idle = idle
	c.mu.Unlock()
}

// serve reads requests one after another (pipelined ones in order) and
// answers each, until the client or a rule ends the connection.
func (c *conn) serve() {
	defer c.srv.forget(c)
	defer c.nc.Close()
	if !c.acceptProxyHeader() {
		return
	}
	if c.srv.uwsgi != nil {
		c.serveUwsgi() // uwsgi.go
		return
	}
	idleTimeout := headerTimeout // the first request may take its time to start
	for {
		if !c.awaitRequest(idleTimeout) {
			return
		}
		idleTimeout = c.srv.cfg.KeepAlive
		c.nc.SetReadDeadline(time.Now().Add(headerTimeout))
		if err := c.reader.ReadRequest(&c.req); err != nil {
			c.reject(err)
			return
		}
		body, err := c.readBody()
		if err != nil {
			c.reject(err)
			return
		}
		keep := c.respond(body)
		putBody(body)
		if !keep || !c.req.Body.Done() || c.srv.isDraining() {
			return
		}
	}
}

// awaitRequest waits up to timeout for the first byte of the next
// request, marked idle so a graceful stop can interrupt it.
func (c *conn) awaitRequest(timeout time.Duration) bool {
	if c.br.Buffered() > 0 {
		return true // pipelined: already here
	}
	c.setIdle(true)
	if c.srv.isDraining() {
		return false
	}
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	_, err := c.br.Peek(1)
	c.setIdle(false)
	return err == nil
}

// reject answers a request that could not be read. Only parse errors get
// an answer: the framing is unknown afterwards, so the connection closes.
func (c *conn) reject(err error) {
	var perr *httpparse.Error
	if !errors.As(err, &perr) {
		return // EOF, timeout or reset: nobody to answer
	}
	c.srv.log.Info().Int("status", perr.Status).Str("reason", perr.Reason).
		Str("remote", c.info.RemoteAddr).Msg("bad request")
	c.writeError(perr.Status, perr.Reason)
}

// writeError sends a complete plain-text error response and asks the
// client to close. reason must be client-safe (it never echoes input).
func (c *conn) writeError(status int, reason string) {
	body := strconv.Itoa(status) + " " + statusText(status) + "\n" + reason + "\n"
	head := "HTTP/1.1 " + strconv.Itoa(status) + " " + statusText(status) + "\r\n" +
		"Date: " + string(c.srv.dates.Get(time.Now())) + "\r\n" +
		"Server: gowsgi\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n"
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	io.WriteString(c.nc, head+body)
	c.noteError(status, len(body))
}

// readBody reads the whole request body before Python is involved, so a
// slow uploader never holds a Python thread. Expect: 100-continue is
// answered first (RFC 9110 §10.1.1).
func (c *conn) readBody() (*bodyBuf, error) {
	b := getBody()
	if c.req.ContentLength == 0 && !c.req.Chunked {
		return b, nil
	}
	if c.req.ExpectContinue {
		c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := io.WriteString(c.nc, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
			putBody(b)
			return nil, err
		}
	}
	for {
		c.nc.SetReadDeadline(time.Now().Add(bodyTimeout))
		if len(b.data) == cap(b.data) {
			b.data = append(b.data, 0)[:len(b.data)]
		}
		n, err := c.req.Body.Read(b.data[len(b.data):cap(b.data)])
		b.data = b.data[:len(b.data)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			putBody(b)
			return nil, err
		}
	}
}

// bodyBuf is a pooled request body buffer.
type bodyBuf struct{ data []byte }

var bodyPool = sync.Pool{New: func() any { return &bodyBuf{data: make([]byte, 0, 4096)} }}

func getBody() *bodyBuf { return bodyPool.Get().(*bodyBuf) }

func putBody(b *bodyBuf) {
	if b == nil {
		return
	}
	if cap(b.data) > 1<<20 {
		return // let a rare huge body go rather than pin it
	}
	b.data = b.data[:0]
	bodyPool.Put(b)
}
