package worker

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// A TCP connection comes out of accept with Nagle off (set once on the
// listener, inherited) and with its peer's address and port.
func TestAcceptTCP(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		l, err := newListener(ln, newLoad(1, 1, false), make(chan struct{}, 1))
		if err != nil {
			t.Fatal(err)
		}
		client, err := net.Dial("tcp", l.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		fd, sa, err := l.accept(nil)
		if err != nil {
			t.Fatal(err)
		}
		nodelay, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
		if err != nil || nodelay != 1 {
			t.Errorf("%s: TCP_NODELAY = %d, %v; want 1", addr, nodelay, err)
		}
		if got, want := sockaddrToAddr(sa).String(), client.LocalAddr().String(); got != want {
			t.Errorf("%s: peer %s; want %s", addr, got, want)
		}
		unix.Close(fd)
		client.Close()
		l.Close()
	}
}
