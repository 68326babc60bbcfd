package engine

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// flightConn passes the first write (the ClientHello) and holds the rest
// until release sends them in one write, so the client's last handshake
// flight and the request after it reach the server together.
type flightConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
	held   []byte
}

func (h *flightConn) Write(p []byte) (int, error) {
	h.mu.Lock()
	h.writes++
	if h.writes > 1 {
		h.held = append(h.held, p...)
		h.mu.Unlock()
		return len(p), nil
	}
	h.mu.Unlock()
	return h.Conn.Write(p)
}

// release sends what was held, on its own goroutine: a server that
// reads nothing more would block it.
func (h *flightConn) release() {
	h.mu.Lock()
	b := h.held
	h.mu.Unlock()
	go h.Conn.Write(b)
}

// A client the server refuses in the handshake (here: no certificate
// where one is required) gets the alert, then the end of the stream,
// never a reset. In TLS 1.3 the client's handshake is over when it sends
// its Finished, so its request follows at once, and the server refuses
// it with those bytes unread. Closed so, the socket answers with a reset
// instead of a FIN (RFC 9112 §9.6), and a client that writes before it
// reads fails on that (openssl s_client: "write:errno=104") and never
// reads the alert. The server half-closes after the alert and drops what
// the client still sends, as after an HTTP error.
func TestTLSRefusedHandshakeEndsWithAlertThenEOF(t *testing.T) {
	cert, pool := selfSignedCert(t)
	front := &tlsFront{config: &tls.Config{Certificates: []tls.Certificate{cert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool},
		timeout: 10 * time.Second, suppressRagged: true, log: zerolog.Nop()}
	_, addr := serveFake(t, newFakeApp(t, nil), testConfig(t), 1, func(s *Server) { s.tls = front })

	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	h := &flightConn{Conn: raw}
	client := tls.Client(h, &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS13})
	if err := client.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	// More than crypto/tls reads past the client's Finished, less than
	// lingerBytes.
	body := bytes.Repeat([]byte("x"), 128<<10)
	if _, err := client.Write([]byte("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 131072\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write(body); err != nil {
		t.Fatal(err)
	}
	h.release()

	_, err = client.Read(make([]byte, 1))
	if err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Fatalf("the client read %v; want the certificate_required alert", err)
	}
	// What follows the alert on the socket itself: the FIN of a half
	// close, not the reset of a close with input unread.
	if n, err := raw.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("after the alert the client read %d bytes, %v; want EOF", n, err)
	}
}
