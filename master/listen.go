package master

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// listener is one bound socket the master owns and passes to workers.
type listener struct {
	file *os.File // the listening socket; never nil
	addr string   // what was bound, for logs: "127.0.0.1:8000", "unix:/run/x.sock"
	// unlink is the socket file this master created and removes on
	// exit; "" for TCP and for inherited (fd://) sockets.
	unlink string
}

// bind opens every -b address. On error it closes what it opened.
func bind(addrs []string, backlog int, reusePort bool) ([]listener, error) {
	var ls []listener
	for _, a := range addrs {
		l, err := bindOne(a, backlog, reusePort)
		if err != nil {
			closeListeners(ls)
			return nil, fmt.Errorf("bind %s: %w", a, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

func closeListeners(ls []listener) {
	for _, l := range ls {
		l.file.Close()
	}
}

func bindOne(addr string, backlog int, reusePort bool) (listener, error) {
	switch {
	case strings.HasPrefix(addr, "unix:"):
		return bindUnix(strings.TrimPrefix(addr, "unix:"), backlog)
	case strings.HasPrefix(addr, "fd://"):
		n, err := strconv.Atoi(strings.TrimPrefix(addr, "fd://"))
		if err != nil || n < 0 {
			return listener{}, errors.New("fd:// needs a file descriptor number")
		}
		f := os.NewFile(uintptr(n), addr)
		if _, err := unix.GetsockoptInt(n, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil {
			return listener{}, fmt.Errorf("fd %d is not a listening socket: %w", n, err)
		}
		return listener{file: f, addr: sockName(n, addr)}, nil
	default:
		return bindTCP(addr, backlog, reusePort)
	}
}

// bindTCP uses raw syscalls rather than net.Listen so --backlog is
// honoured and the socket is a plain fd to hand to workers.
func bindTCP(addr string, backlog int, reusePort bool) (listener, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return listener{}, err
	}
	family, sa := unix.AF_INET, unix.Sockaddr(nil)
	if ip4 := ta.IP.To4(); ip4 != nil || ta.IP == nil {
		s := &unix.SockaddrInet4{Port: ta.Port}
		if ip4 != nil {
			copy(s.Addr[:], ip4)
		}
		sa = s
	} else {
		family = unix.AF_INET6
		s := &unix.SockaddrInet6{Port: ta.Port}
		copy(s.Addr[:], ta.IP.To16())
		sa = s
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return listener{}, err
	}
	opts := [][2]int{{unix.SOL_SOCKET, unix.SO_REUSEADDR}}
	if reusePort {
		opts = append(opts, [2]int{unix.SOL_SOCKET, unix.SO_REUSEPORT})
	}
	if family == unix.AF_INET6 {
		opts = append(opts, [2]int{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY})
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o[0], o[1], 1); err != nil {
			unix.Close(fd)
			return listener{}, err
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return listener{}, err
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return listener{}, err
	}
	return listener{file: os.NewFile(uintptr(fd), addr), addr: sockName(fd, addr)}, nil
}

func bindUnix(path string, backlog int) (listener, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path) // a stale socket from an earlier run
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return listener{}, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return listener{}, err
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return listener{}, err
	}
	return listener{file: os.NewFile(uintptr(fd), "unix:"+path), addr: "unix:" + path, unlink: path}, nil
}

// sockName is the bound address as a client would dial it, so a port 0
// bind logs the real port.
func sockName(fd int, fallback string) string {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fallback
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrUnix:
		return "unix:" + a.Name
	}
	return fallback
}
