package integration

import (
	endian "encoding/binary"
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// sendQueue is the send queue of the established TCP socket
// local→remote: the bytes written to it and not yet acknowledged,
// which on loopback are the ones not yet sent (the peer acknowledges
// what reaches its receive queue). It asks the kernel for that one
// socket by its addresses (sock_diag, linux/inet_diag.h), as ss does:
// reading /proc/net/tcp instead walks every socket of the machine, and
// with tens of thousands of them (other tests, TIME_WAIT) one read took
// 150 ms and more on a loaded machine, so a test sampling it every
// 10 ms got a sample a few times a second.
func sendQueue(t *testing.T, local, remote string) (int64, bool) {
	t.Helper()
	l, r := tcp4Addr(t, local), tcp4Addr(t, remote)
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		t.Fatalf("sock_diag: %v", err)
	}
	defer unix.Close(fd)

	// nlmsghdr (16 bytes), then inet_diag_req_v2 (56): family,
	// protocol, ext, pad, states, and the socket's id: ports and
	// addresses in network order, interface, and the cookie, "none"
	// (INET_DIAG_NOCOOKIE) to find the socket by its addresses.
	const reqLen = 16 + 56
	req := make([]byte, reqLen)
	ne := endian.NativeEndian
	ne.PutUint32(req[0:], reqLen)
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(req[8:], 1) // sequence number
	req[16], req[17] = unix.AF_INET, unix.IPPROTO_TCP
	ne.PutUint32(req[20:], 1<<tcpEstablished)
	id := req[24:]
	endian.BigEndian.PutUint16(id[0:], uint16(l.Port))
	endian.BigEndian.PutUint16(id[2:], uint16(r.Port))
	copy(id[4:], l.IP.To4())
	copy(id[20:], r.IP.To4())
	ne.PutUint32(id[40:], ^uint32(0))
	ne.PutUint32(id[44:], ^uint32(0))
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatalf("sock_diag: %v", err)
	}

	buf := make([]byte, 8192)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		t.Fatalf("sock_diag: %v", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil || len(msgs) == 0 {
		t.Fatalf("sock_diag: %d bytes of answer: %v", n, err)
	}
	m := msgs[0]
	switch {
	case m.Header.Type == unix.NLMSG_ERROR && len(m.Data) >= 4:
		if errno := unix.Errno(-int32(ne.Uint32(m.Data))); errno != unix.ENOENT {
			t.Fatalf("sock_diag: %v", errno)
		}
		return 0, false // no such socket (yet, or any more)
	case m.Header.Type != unix.SOCK_DIAG_BY_FAMILY || len(m.Data) < 72:
		t.Fatalf("sock_diag: answer of type %d, %d bytes", m.Header.Type, len(m.Data))
	}
	// inet_diag_msg: family, state, timer, retrans, the id (48 bytes),
	// expires, rqueue, wqueue, ...
	if m.Data[1] != tcpEstablished {
		return 0, false
	}
	return int64(ne.Uint32(m.Data[60:])), true
}

// tcpEstablished is TCP_ESTABLISHED of the kernel's TCP states.
const tcpEstablished = 1

// tcp4Addr is an IPv4 host:port.
func tcp4Addr(t *testing.T, hostport string) *net.TCPAddr {
	t.Helper()
	a, err := net.ResolveTCPAddr("tcp", hostport)
	if err != nil || a.IP.To4() == nil {
		t.Fatalf("not an IPv4 address: %q", hostport)
	}
	return a
}
