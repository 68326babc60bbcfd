package engine

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// recordingConn keeps a copy of every byte the client reads, so the test
// can see the TLS records themselves: crypto/tls reports a bare FIN at a
// record boundary as io.EOF too, just as it does a close_notify.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	got []byte
}

func (r *recordingConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.got = append(r.got, p[:n]...)
	r.mu.Unlock()
	return n, err
}

type tlsRecord struct {
	typ byte
	len int
}

// records splits b into TLS records (RFC 8446 §5.1) and fails the test
// if it does not end at a record boundary.
func records(t *testing.T, b []byte) []tlsRecord {
	t.Helper()
	var rs []tlsRecord
	for len(b) > 0 {
		if len(b) < 5 {
			t.Fatalf("%d bytes after the last whole record", len(b))
		}
		n := int(binary.BigEndian.Uint16(b[3:5]))
		if len(b) < 5+n {
			t.Fatalf("a record of %d bytes cut after %d", n, len(b)-5)
		}
		rs = append(rs, tlsRecord{b[0], n})
		b = b[5+n:]
	}
	return rs
}

// isCloseNotify reports whether r is how a close_notify alert looks on
// the wire: in TLS 1.2 an alert record (content type 21); in TLS 1.3 an
// application_data record (23) holding the 2-byte alert, its inner
// content type and the 16-byte AEAD tag (RFC 8446 §5.2; crypto/tls does
// not pad).
func isCloseNotify(r tlsRecord, version uint16) bool {
	if version == tls.VersionTLS12 {
		return r.typ == 21
	}
	return r.typ == 23 && r.len == 2+1+16
}

// A TLS connection the server closes sends a close_notify alert before
// it closes its write side (RFC 8446 §6.1), after an HTTP error as after
// a response with Connection: close. After an error the connection
// closes lingering (lingeringClose): the write side shuts and what the
// client still sends is dropped; that shutdown used to come before the
// alert, which then could not be sent, and the client saw the stream
// cut. Checked in the records the client reads: the last one is the
// alert, and then the stream ends (a FIN, not a reset).
func TestTLSCloseSendsCloseNotify(t *testing.T) {
	cert, pool := selfSignedCert(t)
	front := &tlsFront{config: &tls.Config{Certificates: []tls.Certificate{cert}},
		timeout: 10 * time.Second, suppressRagged: true, log: zerolog.Nop()}
	_, addr := serveFake(t, newFakeApp(t, helloRoutes), testConfig(t), 1, func(s *Server) { s.tls = front })

	malformed := "GET / HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n"
	cases := []struct {
		name, req, status string
		extra             int // bytes sent after the request, left for the linger to drop
	}{
		{"error", malformed, "HTTP/1.1 400 ", 0},
		{"error with input unread", malformed, "HTTP/1.1 400 ", 64 << 10},
		{"connection close", get("/hello"), "HTTP/1.1 200 OK\r\n", 0},
	}
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		for _, tc := range cases {
			t.Run(tls.VersionName(version)+"/"+tc.name, func(t *testing.T) {
				raw, rec, client := dialRecordedTLS(t, addr, pool, version)
				if err := client.Handshake(); err != nil {
					t.Fatalf("client handshake: %v", err)
				}
				// Written on their own goroutine: a server that stops
				// reading must not block the read below.
				sent := make(chan error, 1)
				go func() {
					_, err := client.Write(append([]byte(tc.req), bytes.Repeat([]byte("x"), tc.extra)...))
					sent <- err
				}()
				resp, err := io.ReadAll(client)
				if err != nil {
					t.Fatalf("reading the response: %v (read %q)", err, resp)
				}
				if !strings.HasPrefix(string(resp), tc.status) {
					t.Fatalf("response %q; want %q", resp, tc.status)
				}
				if err := <-sent; err != nil {
					t.Fatalf("sending the request: %v", err)
				}
				endsWithCloseNotify(t, raw, rec, version)
			})
		}
	}
}

// An upgraded session over TLS (a WebSocket over https) that ends closes
// as lingerUpgraded does, and sends its close_notify first too.
func TestTLSUpgradedSessionEndsWithCloseNotify(t *testing.T) {
	cert, pool := selfSignedCert(t)
	front := &tlsFront{config: &tls.Config{Certificates: []tls.Certificate{cert}},
		timeout: 10 * time.Second, suppressRagged: true, log: zerolog.Nop()}
	sessions := make(chan string, 4)
	_, addr := serveFake(t, newFakeApp(t, upgradeRoutes(sessions)), testConfig(t), 1, func(s *Server) { s.tls = front })
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			raw, rec, client := dialRecordedTLS(t, addr, pool, version)
			if _, err := io.WriteString(client, "GET /echo HTTP/1.1\r\n"+askUpgrade+"ping\n"); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(client)
			var got strings.Builder
			for !strings.HasSuffix(got.String(), "echo ping\n") {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("read %q, then %v", got.String(), err)
				}
				got.WriteString(line)
			}
			if !strings.HasPrefix(got.String(), "HTTP/1.1 101 ") {
				t.Fatalf("the session began with %q", got.String())
			}
			// The client's close_notify ends the session.
			if err := client.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if s := <-sessions; s != "client closed" {
				t.Fatalf("session ended with %q", s)
			}
			if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
				t.Fatalf("after the session: %q, %v", rest, err)
			}
			endsWithCloseNotify(t, raw, rec, version)
		})
	}
}

// dialRecordedTLS connects a TLS client of exactly version to addr over
// a connection that records what it reads (not yet handshaken).
func dialRecordedTLS(t *testing.T, addr string, pool *x509.CertPool, version uint16) (net.Conn, *recordingConn, *tls.Conn) {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	rec := &recordingConn{Conn: raw}
	client := tls.Client(rec, &tls.Config{RootCAs: pool, ServerName: "localhost",
		MinVersion: version, MaxVersion: version})
	return raw, rec, client
}

// endsWithCloseNotify checks that the server's stream ends in a FIN, not
// a reset, and that its last record is a close_notify alert.
func endsWithCloseNotify(t *testing.T, raw net.Conn, rec *recordingConn, version uint16) {
	t.Helper()
	if n, err := raw.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("at the end the socket read %d bytes, %v; want EOF", n, err)
	}
	rec.mu.Lock()
	rs := records(t, rec.got)
	rec.mu.Unlock()
	if len(rs) == 0 || !isCloseNotify(rs[len(rs)-1], version) {
		t.Fatalf("the records read end %+v; want a close_notify alert last", rs[max(len(rs)-2, 0):])
	}
}
