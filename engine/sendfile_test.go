package engine

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/gowsgi/gowsgi/wsgi"
	"golang.org/x/sys/unix"
)

// tcpSockPair returns a sock on the accepted end of a loopback TCP
// connection and the dialled end for the test to read from.
func tcpSockPair(t *testing.T) (*sock, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	accepted, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	f, err := accepted.(*net.TCPConn).File() // a blocking duplicate
	accepted.Close()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	unix.SetNonblock(fd, true)
	s, err := newSock(fd, newGate(1, 0, false), client.RemoteAddr(), client.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); client.Close() })
	return s, client
}

// The cap on unsent bytes is for the file only: once it is sent, the
// socket is back to the kernel's default for the responses that follow.
func TestSendFileRestoresTheUnsentCap(t *testing.T) {
	content := make([]byte, 1<<20)
	rand.Read(content)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	s, client := tcpSockPair(t)
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(client, int64(len(content))))
		got <- b
	}()
	w := bodyWriter{nc: s, plan: wsgi.Plan{Framing: wsgi.FrameLength, ContentLength: int64(len(content))}, remaining: int64(len(content))}
	if _, err := w.sendFile(FileRegion{Fd: int(file.Fd()), Len: int64(len(content))}); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, content) {
		t.Fatalf("the client got %d bytes, not the file", len(b))
	}
	lowat, err := unix.GetsockoptInt(int(s.f.Fd()), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
	if err != nil {
		t.Fatal(err)
	}
	if lowat != 0 {
		t.Fatalf("TCP_NOTSENT_LOWAT after the file = %d; want 0 (the kernel's default)", lowat)
	}
}

// Bytes sent with MSG_MORE before a file region wait in the kernel for
// the file's first segment (up to 200 ms if none comes: a HEAD answered
// late), so sendsFile must be true exactly when sendFile sends some of
// the file.
func TestSendsFileMatchesSendFile(t *testing.T) {
	region := FileRegion{Len: 100}
	tests := []struct {
		name string
		w    bodyWriter
		f    FileRegion
		want bool
	}{
		{"length, owed", bodyWriter{plan: wsgi.Plan{Framing: wsgi.FrameLength}, remaining: 10}, region, true},
		{"length, all sent before the file", bodyWriter{plan: wsgi.Plan{Framing: wsgi.FrameLength}, remaining: 0}, region, false},
		{"chunked", bodyWriter{plan: wsgi.Plan{Framing: wsgi.FrameChunked}}, region, true},
		{"close-delimited", bodyWriter{plan: wsgi.Plan{Framing: wsgi.FrameClose}}, region, true},
		{"no body (HEAD, 304)", bodyWriter{plan: wsgi.Plan{Framing: wsgi.FrameNone}}, region, false},
		{"empty region", bodyWriter{plan: wsgi.Plan{Framing: wsgi.FrameLength}, remaining: 10}, FileRegion{}, false},
	}
	for _, tt := range tests {
		if got := tt.w.sendsFile(tt.f); got != tt.want {
			t.Errorf("%s: sendsFile = %v; want %v", tt.name, got, tt.want)
		}
		// What sendFile writes, on a socket pair, must agree.
		s, peer := sockPair(t, newGate(1, 0, false))
		file, err := os.Open("/dev/zero")
		if err != nil {
			t.Fatal(err)
		}
		w := tt.w
		w.nc = s
		tt.f.Fd = int(file.Fd())
		w.sendFile(tt.f)
		file.Close()
		s.Close()
		b, _ := io.ReadAll(peer)
		if sent := len(b) > 0; sent != tt.want {
			t.Errorf("%s: sendFile wrote %d bytes; sendsFile says %v", tt.name, len(b), tt.want)
		}
	}
}

// A client that goes away during a file gets the region cut short, and
// sendFile says how much of it never reached the socket: the access log
// counts what was sent, not the whole file (it said 100000000 for a
// download the client left after 200 KB).
func TestSendFileToAClientThatLeavesCountsTheUnsent(t *testing.T) {
	const size = 64 << 20
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, noSendfile := range []bool{false, true} {
		file, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		s, client := tcpSockPair(t)
		go func() {
			io.ReadFull(client, make([]byte, 256<<10))
			client.Close()
		}()
		w := bodyWriter{nc: s, noSendfile: noSendfile,
			plan: wsgi.Plan{Framing: wsgi.FrameLength, ContentLength: size}, remaining: size}
		unsent, err := w.sendFile(FileRegion{Fd: int(file.Fd()), Len: size})
		file.Close()
		if err == nil {
			t.Fatalf("noSendfile %v: the whole file went to a client that left", noSendfile)
		}
		// What the client read, plus what the kernels' buffers took.
		if unsent < size/2 || unsent > size-256<<10 {
			t.Fatalf("noSendfile %v: %d of %d bytes unsent; want most of them", noSendfile, unsent, size)
		}
	}
}
