package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// TLS is served with crypto/tls over the worker's own socket (sock.go).
// The seam is the sock: a TLS connection's sock gets a tlsLayer, and its
// Read and writev go through the layer instead of the raw system calls.
// Everything above the sock (parser, outbox, hold, the streamer) is
// unchanged. Two properties of the raw socket are kept:
//
//   - a write that never blocks (tryWritev) stays one that never blocks:
//     the layer encrypts into its own buffer of ciphertext (pend) and
//     sends what the socket takes now; a write encrypts at most
//     tlsTryChunk bytes, so pend stays small, and the next one first
//     sends pend. A blocking write (writeAll) sends pend before it
//     returns, so a finished response is on the wire.
//   - the load accounting: the layer reads and writes the raw socket
//     through readRaw and writevRaw, which mark the waits as before.
//
// wsgi.file_wrapper cannot use sendfile(2) through TLS: bodyWriter
// falls back to pread into a Go buffer and writes it through the layer
// (sendfile.go), Python never touching the bytes. Kernel TLS would let
// sendfile work again (docs/tls.md).

// tlsTryChunk bounds what one non-blocking write encrypts: the most
// ciphertext a slow client can leave waiting beyond --response-buffer.
const tlsTryChunk = 64 << 10

// defaultHandshakeTimeout bounds a handshake when --header-timeout is 0.
const defaultHandshakeTimeout = 30 * time.Second

// tlsFront serves TLS on a worker's listeners; nil when TLS is off.
type tlsFront struct {
	config         *tls.Config // immutable but for its session-ticket keys
	timeout        time.Duration
	suppressRagged bool
	log            zerolog.Logger

	secret []byte      // the master's ticket secret for this generation
	rotate *time.Timer // sets the next period's ticket keys
}

// Session-ticket keys: every worker of a generation derives the same
// key for the same period from the master's secret, so a client resumes
// on any worker without the workers talking to each other. A ticket is
// accepted for ticketKeysKept periods after it was issued (a new one is
// issued on resumption in TLS 1.3, RFC 8446 §4.6.1).
const (
	ticketKeyPeriod = time.Hour
	ticketKeysKept  = 24
)

func newTLSFront(cfg *config.Config, log zerolog.Logger) (*tlsFront, error) {
	if cfg.TLS == nil {
		return nil, nil
	}
	tc, err := cfg.TLS.ServerConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	f := &tlsFront{config: tc, timeout: cfg.HeaderTimeout, suppressRagged: cfg.SuppressRaggedEOFs,
		log: log, secret: cfg.TLS.TicketSecret}
	if f.timeout <= 0 {
		f.timeout = defaultHandshakeTimeout
	}
	if len(f.secret) > 0 {
		f.setTicketKeys(time.Now())
	}
	return f, nil
}

// setTicketKeys sets the keys of the period holding now (first: the one
// that encrypts) and of the ticketKeysKept-1 before it, and schedules
// the next rotation. It runs on a timer goroutine after the first call;
// tls.Config guards its keys with its own mutex.
func (f *tlsFront) setTicketKeys(now time.Time) {
	period := now.UnixNano() / int64(ticketKeyPeriod)
	keys := make([][32]byte, ticketKeysKept)
	for i := range keys {
		keys[i] = ticketKey(f.secret, period-int64(i))
	}
	f.config.SetSessionTicketKeys(keys)
	next := time.Unix(0, (period+1)*int64(ticketKeyPeriod)).Sub(now)
	f.rotate = time.AfterFunc(next, func() { f.setTicketKeys(time.Now()) })
}

// ticketKey derives the key of one period: HMAC-SHA256(secret, label ‖ period).
func ticketKey(secret []byte, period int64) [32]byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("gowsgi session ticket key"))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(period)))
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}

// tlsLayer is one connection's TLS state, between its sock and the
// tls.Conn. The connection goroutine (or the hold timer, never both at
// once) writes; a streamed body's feeder may read meanwhile, and a read
// can make tls.Conn write (an alert, a KeyUpdate answer), so pend is
// guarded by mu.
type tlsLayer struct {
	s    *sock     // never nil
	conn *tls.Conn // never nil; over the layer's transport
	pre  []byte    // bytes read before the handshake began (the first byte peeked); consumed first
	// sawEOF: the raw socket reached EOF (the connection goroutine's reads only).
	sawEOF bool

	mu        sync.Mutex
	pend      []byte // guarded by mu: ciphertext not yet sent
	buffering bool   // guarded by mu: a writev is encrypting; its records wait in pend
}

// transport is the net.Conn under tls.Conn: the layer's raw side.
type transport struct{ *tlsLayer }

func newTLSLayer(s *sock, pre []byte, f *tlsFront) *tlsLayer {
	l := &tlsLayer{s: s, pre: pre}
	l.conn = tls.Server(transport{l}, f.config)
	return l
}

func (t transport) Read(p []byte) (int, error) {
	if len(t.pre) > 0 {
		n := copy(p, t.pre)
		t.pre = t.pre[n:]
		return n, nil
	}
	n, err := t.s.readRaw(p)
	if err == io.EOF {
		t.sawEOF = true
	}
	return n, err
}

// Write takes a record from tls.Conn. Inside writev it only queues it;
// otherwise (the handshake, an alert or KeyUpdate answer sent by a read)
// it is sent at once, waiting for the client up to the write deadline.
func (t transport) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.pend = append(t.pend, p...)
	direct := !t.buffering
	t.mu.Unlock()
	if direct {
		if err := t.flush(true); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (t transport) Close() error                       { return t.s.Close() }
func (t transport) LocalAddr() net.Addr                { return t.s.LocalAddr() }
func (t transport) RemoteAddr() net.Addr               { return t.s.RemoteAddr() }
func (t transport) SetDeadline(d time.Time) error      { return t.s.SetDeadline(d) }
func (t transport) SetReadDeadline(d time.Time) error  { return t.s.SetReadDeadline(d) }
func (t transport) SetWriteDeadline(d time.Time) error { return t.s.SetWriteDeadline(d) }

var _ net.Conn = transport{}

// flush sends pend: all of it when block (waiting up to the write
// deadline), else what the socket takes now.
func (l *tlsLayer) flush(block bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.pend) > 0 {
		one := [1][]byte{l.pend}
		n, err := l.s.writevRaw(one[:], block)
		l.pend = l.pend[n:]
		if err != nil {
			return err
		}
		if n == 0 && !block {
			break
		}
	}
	if len(l.pend) == 0 {
		l.pend = nil
	}
	return nil
}

// unsent reports whether ciphertext waits to be sent.
func (l *tlsLayer) unsent() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pend) > 0
}

// writev is sock.writev through TLS: it returns how many bytes of bufs
// (plaintext) were taken, at most tlsTryChunk, so the ciphertext of a
// big body is never held whole (sock.Write and writeAll call again for
// the rest). With block it waits until they, and what was pending
// before, are sent; without, it takes nothing while older ciphertext
// waits.
func (l *tlsLayer) writev(bufs [][]byte, block bool) (int, error) {
	if err := l.flush(block); err != nil {
		return 0, err
	}
	if !block && l.unsent() {
		return 0, nil
	}
	limit := min(size(bufs), tlsTryChunk)
	l.mu.Lock()
	l.buffering = true
	l.mu.Unlock()
	n := 0
	var err error
	for _, b := range bufs {
		if n == limit {
			break
		}
		b = b[:min(len(b), limit-n)]
		if len(b) == 0 {
			continue
		}
		if _, err = l.conn.Write(b); err != nil {
			break
		}
		n += len(b)
	}
	l.mu.Lock()
	l.buffering = false
	l.mu.Unlock()
	if err != nil {
		return n, err
	}
	return n, l.flush(block)
}

// read is sock.Read through TLS.
func (l *tlsLayer) read(p []byte, f *tlsFront) (int, error) {
	n, err := l.conn.Read(p)
	if err == io.EOF && l.sawEOF && !f.suppressRagged {
		f.log.Info().Str("remote", l.s.RemoteAddr().String()).
			Msg("the client closed the TLS connection without a close_notify")
	}
	return n, err
}

// closeNotify queues a close_notify alert (RFC 8446 §6.1) and sends it
// if the socket takes it at once: a closing connection never waits.
// After a first call (lingeringClose's) it sends nothing more:
// crypto/tls sends the alert once.
func (l *tlsLayer) closeNotify() {
	l.closeNotifyBy(time.Time{})
}

// closeNotifyBy is closeNotify, but waits until deadline for the
// socket to take the alert when deadline is set.
func (l *tlsLayer) closeNotifyBy(deadline time.Time) {
	l.mu.Lock()
	l.buffering = true
	l.mu.Unlock()
	l.conn.CloseWrite()
	l.mu.Lock()
	l.buffering = false
	l.mu.Unlock()
	// CloseWrite leaves a write deadline in the past, which would fail
	// the send before it is tried.
	l.s.SetWriteDeadline(deadline)
	l.flush(!deadline.IsZero())
}

// rawReader reads a sock's socket itself, under any TLS: what a closing
// connection drains is dropped unread, so it is not worth decrypting,
// and a record that does not decrypt must not end the drain early.
type rawReader struct{ s *sock }

func (r rawReader) Read(p []byte) (int, error) { return r.s.readRaw(p) }

// plainListener reports whether the worker's listener i, inherited in
// the order of cfg.Bind, is one of --plain-bind. (With systemd's
// sockets, Bind is not used and every listener is TLS.)
func plainListener(cfg *config.Config, i int) bool {
	return i < len(cfg.Bind) && slices.Contains(cfg.PlainBind, cfg.Bind[i])
}

// encrypts reports whether nc writes through TLS, so sendfile(2) of a
// file region would bypass the encryption.
func encrypts(nc net.Conn) bool {
	s, ok := nc.(*sock)
	return ok && s.tls != nil
}

// tlsRecordHandshake is the first byte of a TLS connection: a record of
// content type handshake (RFC 8446 §5.1) carrying the ClientHello.
const tlsRecordHandshake = 0x16

// errPlainHTTP: a TLS listener got a request in plain HTTP.
var errPlainHTTP = errors.New("worker: plain HTTP sent to a TLS listener")

// startTLS runs the handshake of a new connection on its own goroutine,
// bounded by the handshake timeout, and readies c to read requests
// through TLS. A client that speaks plain HTTP instead gets a plain 400,
// as nginx answers (its 497 code is internal; the client sees 400). It
// reports whether the connection goes on.
//
// Until the handshake is done, the connection is evictable as a plain
// one is (room.go): while it waits for its first byte as a fresh
// connection, and then as a request head in progress.
func (c *conn) startTLS() bool {
	f := c.nc.tlsFront
	if !c.awaitRequest(c.srv.firstByteTimeout) { // the ClientHello's first byte
		return false
	}
	if b, _ := c.br.Peek(1); b[0] != tlsRecordHandshake {
		c.srv.log.Info().Err(errPlainHTTP).Str("remote", c.info.RemoteAddr).Msg("bad request")
		c.writeError(400, "The plain HTTP request was sent to HTTPS port.")
		return false
	}
	c.beginHead() // its read deadline: --header-timeout, or --header-min-rate's
	now := time.Now()
	if c.srv.headerTimeout <= 0 {
		c.nc.SetReadDeadline(now.Add(f.timeout))
	}
	c.nc.SetWriteDeadline(now.Add(f.timeout))
	pre, _ := c.br.Peek(c.br.Buffered())
	l := newTLSLayer(c.nc, append([]byte(nil), pre...), f)
	c.nc.tls = l
	err := l.conn.Handshake()
	c.endHead(err)
	if err != nil {
		c.srv.log.Debug().Err(err).Str("remote", c.info.RemoteAddr).Msg("TLS handshake failed")
		c.closeRefusedTLS(err)
		return false
	}
	c.nc.SetDeadline(time.Time{})
	ackNow(c.nc.rc)
	c.br.Reset(c.nc)
	c.info.Scheme = "https"
	if c.info.ServerPort == "80" {
		c.info.ServerPort = "443" // a unix socket's default port
	}
	c.info.Vars = tlsVars(l.conn.ConnectionState(), f.config.ClientAuth)
	return true
}

// ackNow sends at once the ACK the kernel holds back for the client's
// last handshake flight (TCP_QUICKACK sends an ACK that is scheduled).
// In TLS 1.3 Go sends its session tickets with its own flight, before
// the client's Finished, so nothing follows the Finished to carry its
// ACK, and a client that leaves Nagle's algorithm on (a raw Python ssl
// socket) held its request back until the delayed ACK came: 42 ms
// before the first response of every connection, 0.2-0.5 ms with this
// (OpenSSL servers send the tickets after the Finished, and never
// stalled). One system call per handshake; failing, it changes nothing.
func ackNow(rc syscall.RawConn) {
	rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1) })
}

// closeRefusedTLS readies the close of a connection whose handshake
// failed with err. crypto/tls has sent the alert the failure calls for
// (RFC 8446 §6.2: the alert, then the close), but the client may have
// sent more: in TLS 1.3 its handshake is over once it sends its
// Finished, so its request follows at once, and a refused certificate
// leaves the records after it, or the request, unread. Closing with
// input unread makes the kernel send a reset in place of a FIN, and a
// client that writes its request after the reset came fails there
// without reading the alert (openssl s_client: "write:errno=104"). So
// the connection closes as after an HTTP error: the write side at once,
// then what the client still sends is read raw and dropped, for at most
// lingerTimeout. A handshake that ran out of time (or was evicted,
// room.go) closes at once: its client is silent, and nothing was sent.
func (c *conn) closeRefusedTLS(err error) {
	// Nothing more goes through TLS: the drain reads the raw socket, and
	// Close sends no close_notify (there is no session to close).
	c.nc.tls = nil
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return
	}
	c.lingeringClose()
}

// connScheme is wsgi.url_scheme when no trusted proxy says otherwise:
// https on a TLS connection, as in Gunicorn.
func (c *conn) connScheme() string {
	if c.nc.tls != nil {
		return "https"
	}
	return httpScheme
}

// tlsVars are the CGI variables of a TLS connection, under the names of
// Apache mod_ssl and nginx (ngx_http_ssl_module):
//
//	HTTPS "on";  SSL_PROTOCOL "TLSv1.3";  SSL_CIPHER "TLS_AES_128_GCM_SHA256"
//	SSL_CLIENT_VERIFY "SUCCESS" or "NONE"
//	SSL_CLIENT_S_DN "CN=client,O=Example" (RFC 2253, as nginx: tlsdn.go), SSL_CLIENT_I_DN, SSL_CLIENT_SERIAL "1F" (hex)
//
// A client certificate that fails verification ends the handshake, so
// FAILED never reaches the app.
func tlsVars(st tls.ConnectionState, auth tls.ClientAuthType) [][2]string {
	vars := [][2]string{
		{"HTTPS", "on"},
		{"SSL_PROTOCOL", strings.Replace(tls.VersionName(st.Version), "TLS 1", "TLSv1", 1)},
		{"SSL_CIPHER", tls.CipherSuiteName(st.CipherSuite)},
	}
	if len(st.PeerCertificates) == 0 || auth < tls.VerifyClientCertIfGiven {
		return append(vars, [2]string{"SSL_CLIENT_VERIFY", "NONE"})
	}
	cert := st.PeerCertificates[0]
	return append(vars,
		[2]string{"SSL_CLIENT_VERIFY", "SUCCESS"},
		[2]string{"SSL_CLIENT_S_DN", distinguishedName(cert.RawSubject, cert.Subject)},
		[2]string{"SSL_CLIENT_I_DN", distinguishedName(cert.RawIssuer, cert.Issuer)},
		[2]string{"SSL_CLIENT_SERIAL", fmt.Sprintf("%X", cert.SerialNumber)},
	)
}
