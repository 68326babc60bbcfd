package worker

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/gowsgi/gowsgi/pyshim"
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
	s, err := newSock(fd, newLoad(1, 0, false), client.RemoteAddr(), client.LocalAddr())
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
	if err := w.sendFile(pyshim.FileRegion{Fd: int(file.Fd()), Len: int64(len(content))}); err != nil {
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
