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

// listener is one listening socket the master holds and passes to
// workers. Immutable once bound, except unlink (cleared by quiesce).
type listener struct {
	file *os.File // the listening socket; never nil
	addr string   // what was bound, for logs: "127.0.0.1:8000", "unix:/run/x.sock"
	// bind is the --bind value it was bound for; "" for sockets received
	// from systemd or from an upgrading master.
	bind string
	// unlink is the socket file this server created and removes on exit;
	// "" for TCP and for sockets received from outside (fd://, systemd).
	unlink string
	// ino is unlink's inode, so a path since reused by another server
	// is left alone.
	ino uint64
	// owned: this server created the socket, so nobody else accepts on
	// it and a stop may make it refuse new connections (see quiesce).
	// False for fd:// and systemd sockets, which outlive us.
	owned bool
}

// bind opens every -b address; umask is --umask, for unix sockets. On
// error it closes what it opened.
func bind(addrs []string, backlog int, reusePort bool, umask int) ([]*listener, error) {
	v4 := ipv4Ports(addrs)
	var ls []*listener
	for _, a := range addrs {
		l, err := bindOne(a, backlog, reusePort, umask, v4)
		if err != nil {
			closeListeners(ls)
			return nil, fmt.Errorf("bind %s: %w", a, err)
		}
		l.bind = a
		ls = append(ls, l)
	}
	return ls, nil
}

func closeListeners(ls []*listener) {
	for _, l := range ls {
		l.file.Close()
	}
}

// removeSocketFiles unlinks the unix socket files this server created,
// unless another server has since bound the same path.
func removeSocketFiles(ls []*listener) {
	for _, l := range ls {
		if l.unlink != "" && inode(l.unlink) == l.ino {
			os.Remove(l.unlink)
		}
	}
}

func inode(path string) uint64 {
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil {
		return 0
	}
	return st.Ino
}

// ipv4Ports is the set of ports addrs bind on an IPv4 address (a bare
// port is IPv4's wildcard). Port 0 is left out: each such bind gets a
// port of its own.
func ipv4Ports(addrs []string) map[int]bool {
	ports := map[int]bool{}
	for _, a := range addrs {
		if strings.HasPrefix(a, "unix:") || strings.HasPrefix(a, "fd://") {
			continue
		}
		if ta, err := net.ResolveTCPAddr("tcp", a); err == nil && ta.Port != 0 && (ta.IP == nil || ta.IP.To4() != nil) {
			ports[ta.Port] = true
		}
	}
	return ports
}

func bindOne(addr string, backlog int, reusePort bool, umask int, ipv4Ports map[int]bool) (*listener, error) {
	switch {
	case strings.HasPrefix(addr, "unix:"):
		return bindUnix(strings.TrimPrefix(addr, "unix:"), backlog, umask)
	case strings.HasPrefix(addr, "fd://"):
		n, err := strconv.Atoi(strings.TrimPrefix(addr, "fd://"))
		if err != nil || n < 0 {
			return nil, errors.New("fd:// needs a file descriptor number")
		}
		return adoptFD(n, addr)
	default:
		return bindTCP(addr, backlog, reusePort, ipv4Ports)
	}
}

// bindTCP uses raw syscalls rather than net.Listen so --backlog is
// honoured and the socket is a plain fd to hand to workers.
//
// An IPv6 socket keeps the system's IPV6_V6ONLY default (Linux's
// net.ipv6.bindv6only, 0): "[::]:8000" takes IPv4 clients too, as under
// Gunicorn, which leaves the option alone. Only where ipv4Ports says
// the same port is also bound on IPv4 ("-b 0.0.0.0:8000 -b [::]:8000",
// which Gunicorn cannot bind) is it IPv6-only, so both binds succeed.
func bindTCP(addr string, backlog int, reusePort bool, ipv4Ports map[int]bool) (*listener, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, err
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
		return nil, err
	}
	opts := [][2]int{{unix.SOL_SOCKET, unix.SO_REUSEADDR}}
	if reusePort {
		opts = append(opts, [2]int{unix.SOL_SOCKET, unix.SO_REUSEPORT})
	}
	if family == unix.AF_INET6 && ipv4Ports[ta.Port] {
		opts = append(opts, [2]int{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY})
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o[0], o[1], 1); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &listener{file: os.NewFile(uintptr(fd), addr), addr: sockName(fd, addr), owned: true}, nil
}

func bindUnix(path string, backlog int, umask int) (*listener, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path) // a stale socket from an earlier run
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	// Linux creates the socket file with the socket's own mode masked by
	// the process umask (af_unix.c, unix_bind): with --umask applied to
	// it first, the file is never more open than --umask allows, from
	// bind on. Gunicorn binds under os.umask(--umask); the process umask
	// is not touched here, as other goroutines may create files. The
	// first worker then sets exactly 0777 & ~umask (and the owner):
	// worker/privileges.go.
	if err := unix.Fchmod(fd, 0o777&^uint32(umask)); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &listener{file: os.NewFile(uintptr(fd), "unix:"+path), addr: "unix:" + path,
		unlink: path, ino: inode(path), owned: true}, nil
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

// adoptFD takes a listening socket this process inherited at fd n.
func adoptFD(n int, name string) (*listener, error) {
	if _, err := unix.GetsockoptInt(n, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil {
		return nil, fmt.Errorf("fd %d is not a listening socket: %w", n, err)
	}
	unix.CloseOnExec(n) // it reaches workers through ExtraFiles only
	return &listener{file: os.NewFile(uintptr(n), name), addr: sockName(n, name)}, nil
}

// systemdListeners adopts the sockets systemd passes with socket
// activation (sd_listen_fds(3)): LISTEN_FDS sockets from fd 3, meant for
// us when LISTEN_PID is our pid. It returns nil when there are none.
func systemdListeners(p *process) ([]*listener, error) {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != p.pid {
		return nil, nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return nil, fmt.Errorf("systemd socket activation: LISTEN_FDS=%q: want a positive number", os.Getenv("LISTEN_FDS"))
	}
	var ls []*listener
	for fd := sdListenFDsStart; fd < sdListenFDsStart+n; fd++ {
		l, err := adoptFD(fd, "fd://"+strconv.Itoa(fd))
		if err != nil {
			closeListeners(ls)
			return nil, fmt.Errorf("systemd socket activation: %w", err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// sdListenFDsStart is SD_LISTEN_FDS_START.
const sdListenFDsStart = 3
