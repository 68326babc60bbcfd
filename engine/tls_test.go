package engine

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// tlsPair is sockPair with TLS between the sock and a crypto/tls client
// on the other end, handshake done.
func tlsPair(t *testing.T, l *gate) (*sock, *tls.Conn) {
	t.Helper()
	cert, pool := selfSignedCert(t)
	front := &tlsFront{config: &tls.Config{Certificates: []tls.Certificate{cert}},
		timeout: 5 * time.Second, suppressRagged: true, log: zerolog.Nop()}

	s, peer := sockPair(t, l)
	pc, err := net.FileConn(peer)
	if err != nil {
		t.Fatal(err)
	}
	client := tls.Client(pc, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	t.Cleanup(func() { pc.Close() })
	s.tls = newTLSLayer(s, nil, front)
	s.SetDeadline(time.Now().Add(5 * time.Second))
	done := make(chan error, 1)
	go func() { done <- client.Handshake() }()
	if err := s.tls.conn.Handshake(); err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	s.SetDeadline(time.Time{})
	return s, client
}

// A non-blocking write through TLS never waits for the client, takes at
// most tlsTryChunk per call, and stops taking while ciphertext waits; a
// blocking write then delivers everything, in order.
func TestTLSTryWritevNeverBlocks(t *testing.T) {
	l := newGate(1, 0, false)
	s, client := tlsPair(t, l)
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 16<<10) // 256 KiB
	var sent []byte
	for i := 0; ; i++ {
		n, err := s.tryWritev([][]byte{chunk})
		if err != nil {
			t.Fatal(err)
		}
		if n > tlsTryChunk {
			t.Fatalf("tryWritev took %d bytes; want at most %d", n, tlsTryChunk)
		}
		if n == 0 {
			break
		}
		sent = append(sent, chunk[:n]...)
		if i > 1000 {
			t.Fatal("tryWritev never found the socket full")
		}
	}
	if !s.tls.unsent() {
		t.Error("tryWritev returned 0 with no ciphertext waiting")
	}
	got := make(chan []byte)
	want := int64(len(sent) + len(chunk)) // read here: the goroutine must not race the append below
	go func() {
		b, _ := io.ReadAll(io.LimitReader(client, want))
		got <- b
	}()
	if err := s.writeAll([][]byte{chunk}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	sent = append(sent, chunk...)
	if b := <-got; !bytes.Equal(b, sent) {
		t.Fatalf("the client got %d bytes, not the %d sent in order", len(b), len(sent))
	}
	if s.tls.unsent() {
		t.Error("writeAll returned with ciphertext waiting")
	}
}

// A request read through the sock comes out of TLS; the client's
// close_notify reads as EOF.
func TestTLSSockReads(t *testing.T) {
	l := newGate(1, 0, false)
	s, client := tlsPair(t, l)
	go func() {
		client.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
		client.CloseWrite()
	}()
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(s)
	if err != nil || string(b) != "GET / HTTP/1.1\r\n\r\n" {
		t.Fatalf("read %q, %v", b, err)
	}
}

func TestTLSVars(t *testing.T) {
	vars := tlsVars(tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256}, tls.NoClientCert)
	want := [][2]string{{"HTTPS", "on"}, {"SSL_PROTOCOL", "TLSv1.3"}, {"SSL_CIPHER", "TLS_AES_128_GCM_SHA256"},
		{"SSL_CLIENT_VERIFY", "NONE"}}
	if len(vars) != len(want) {
		t.Fatalf("tlsVars = %q; want %q", vars, want)
	}
	for i := range want {
		if vars[i] != want[i] {
			t.Errorf("tlsVars[%d] = %q; want %q", i, vars[i], want[i])
		}
	}
}
