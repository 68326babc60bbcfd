package engine

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// listener is one inherited listening socket. The worker accepts with
// its own accept4 inside the poller callback, so checking for room and
// taking the connection are one step: a worker whose Python threads all
// have work never takes a connection off the shared queue, whatever it
// was doing when the connection arrived.
type listener struct {
	f    *os.File        // a pollable duplicate of the inherited descriptor
	rc   syscall.RawConn // f's
	addr net.Addr        // the bound address; for unix sockets, the local address of every connection
	tcp  bool
	// plain: no TLS on this listener although --certfile is set
	// (--plain-bind); immutable.
	plain bool
	gate  *gate
	wake  chan struct{} // load's signal that there is room again
	// closed is set by Close: the accept loop ends rather than retrying.
	closed atomic.Bool

	// While the worker is full: grace ticks every tickEvery (armed while
	// graceArmed), queuedSince is when a tick first found connections
	// queued (zero: none at the last tick), and force lets one be taken
	// without room (see acceptGrace).
	grace       *time.Timer
	graceArmed  bool
	tickEvery   time.Duration
	queuedSince time.Time
	force       bool

	// The accept in progress, for acceptFn (bound once, no allocation).
	full     bool // there was no room: nothing accepted
	nfd      int
	sa       unix.Sockaddr
	err      error
	acceptFn func(fd uintptr) bool
}

// newListener takes over ln: it keeps a duplicate of its descriptor and
// closes ln.
func newListener(ln net.Listener, l *gate, wake chan struct{}) (*listener, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("listener %v has no descriptor", ln.Addr())
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, fmt.Errorf("duplicating listener %v: %w", ln.Addr(), derr)
	}
	addr := ln.Addr()
	ln.Close()
	// Accepted sockets inherit TCP_NODELAY from the listener: set once
	// here, not per connection. Nagle would only delay a streamed
	// response; gowsgi writes each response with one writev.
	_, tcp := addr.(*net.TCPAddr)
	if tcp {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("listener %v: TCP_NODELAY: %w", addr, err)
		}
	}
	// net.FileListener made the shared open file non-blocking, so the
	// duplicate joins the runtime poller.
	f := os.NewFile(uintptr(fd), "listener")
	frc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	lst := &listener{f: f, rc: frc, addr: addr, tcp: tcp, gate: l, wake: wake, grace: time.NewTimer(time.Hour)}
	lst.grace.Stop()
	lst.acceptFn = lst.acceptFD
	return lst, nil
}

func (l *listener) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	return l.f.Close()
}

// accept waits for a connection and for room to take it, and returns
// the new socket's descriptor and peer. It fails once the listener is
// closed, or with an accept4 error such as EMFILE.
func (l *listener) accept(stop <-chan struct{}) (int, unix.Sockaddr, error) {
	for {
		l.full, l.nfd, l.sa, l.err = false, -1, nil, nil
		err := l.rc.Read(l.acceptFn)
		l.force = false
		if err != nil {
			return -1, nil, err
		}
		if !l.full {
			l.queuedSince = time.Time{}
			return l.nfd, l.sa, l.err
		}
		// The timer runs on across wake-ups and accepts, and is never
		// stopped: a full worker is woken often (a thread is given back,
		// and the room is taken again before the accept), and a timer
		// armed afresh for each wait never fired. A tick that fired while
		// the worker had room counts as a tick.
		if !l.graceArmed {
			l.grace.Reset(max(l.tickEvery, acceptGrace))
			l.graceArmed = true
		}
		select {
		case <-l.wake:
		case <-stop:
			return -1, nil, net.ErrClosed
		case <-l.grace.C:
			l.graceArmed = false
			now := time.Now()
			l.force = l.queuedLong(now) && l.gate.tookSince(l.queuedSince)
		}
	}
}

// acceptGrace: a full worker takes a connection all the same once the
// listen queue has stayed non-empty for its patience (load.patience: at
// least acceptGrace, longer the more clients it holds), seen by ticks
// acceptGrace apart: no sibling had room, as one with room takes a
// connection within microseconds. At most one per tick, and only if its
// Python threads are live: a request of its own took one since the
// connections were first seen waiting. A worker whose threads are all
// stuck, or all in long calls, leaves them queued, however briefly its
// siblings were too slow to take them (it once looked back a whole
// second for a take: on a loaded machine, a sibling woken late left a
// connection queued for two ticks, and a worker whose only thread had
// just gone into a 5 s call took it; TestStuckWorkerLeavesConnections-
// ToSibling failed 5 runs in 20). Taken in, the connection waits its turn
// for a Python thread in order with the others.
//
// Without it, a worker whose threads stayed busy took new connections
// only in the moments its keep-alive clients left it room: with -w 1 and
// 4 clients sending 20 ms requests back to back it served 2 of them, and
// a newcomer waited until the others stopped; with 2 workers × 8 threads
// and 64 clients, 30-odd waited in the listen queue until shedding let
// them in (p50 40 ms, p99 404 ms; now 81 and 101-141).
//
// The ticks back off to maxAcceptTick while they find the queue empty:
// each is a wake-up of a process that may be otherwise idle. On sleepy
// (2 workers × 8 threads, 64 clients, 790 req/s: the core 96% idle) ticks
// every 2 ms took the workers' CPU per request from 45-61 us (when the
// queue held the clients) to 96-115; backing off, 80-86, latency alike.
const (
	acceptGrace   = 2 * time.Millisecond
	maxAcceptTick = 32 * time.Millisecond
)

// queuedLong reports whether connections have been waiting in the listen
// queue since a tick at least the worker's patience before now.
func (l *listener) queuedLong(now time.Time) bool {
	switch {
	case !l.queued():
		l.queuedSince = time.Time{}
		l.tickEvery = min(2*max(l.tickEvery, acceptGrace), maxAcceptTick)
		return false
	case l.queuedSince.IsZero():
		l.tickEvery = acceptGrace
		l.queuedSince = now
		return false
	}
	return now.Sub(l.queuedSince) >= l.gate.patience()
}

// acceptFD runs inside rc.Read: first when called, then each time the
// listener becomes readable. A forced attempt does not wait for a
// connection: with none queued it goes back to waiting for room.
func (l *listener) acceptFD(fd uintptr) bool {
	if (!l.force && !l.gate.hasRoom()) || !l.gate.keepsUp() {
		l.full = true
		return true
	}
	for {
		nfd, sa, err := l.accept4(int(fd))
		switch err {
		case nil:
			l.gate.add() // counted before the next check
			l.nfd, l.sa = nfd, sa
			return true
		case unix.EINTR, unix.ECONNABORTED:
			continue
		case unix.EAGAIN:
			if l.force {
				l.full = true
				return true
			}
			return false // a sibling took it, or nothing yet: wait
		default:
			l.err = os.NewSyscallError("accept4", err)
			return true
		}
	}
}

// accept4 takes a connection, non-blocking and close-on-exec. For TCP
// it is unix.Accept4 without the getsockopt(SO_PROTOCOL) that x/sys
// makes after every AF_INET accept (to tell L2TP sockets apart): one
// system call in ten of a Connection: close request.
func (l *listener) accept4(fd int) (int, unix.Sockaddr, error) {
	const flags = unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
	if !l.tcp {
		return unix.Accept4(fd, flags)
	}
	var rsa unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	nfd, _, errno := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&rsa)),
		uintptr(unsafe.Pointer(&n)), flags, 0, 0)
	if errno != 0 {
		return -1, nil, errno
	}
	switch rsa.Addr.Family {
	case unix.AF_INET:
		raw := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		return int(nfd), &unix.SockaddrInet4{Port: bigEndianPort(raw.Port), Addr: raw.Addr}, nil
	case unix.AF_INET6:
		raw := (*unix.RawSockaddrInet6)(unsafe.Pointer(&rsa))
		return int(nfd), &unix.SockaddrInet6{Port: bigEndianPort(raw.Port), ZoneId: raw.Scope_id, Addr: raw.Addr}, nil
	}
	unix.Close(int(nfd))
	return -1, nil, unix.EAFNOSUPPORT
}

// bigEndianPort reads a sockaddr's port, stored in network byte order.
func bigEndianPort(p uint16) int {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return int(b[0])<<8 | int(b[1])
}

// peerAddrs returns the local and remote addresses of a new connection.
func (l *listener) peerAddrs(fd int, sa unix.Sockaddr) (local, remote net.Addr) {
	remote = sockaddrToAddr(sa)
	switch a := l.addr.(type) {
	case *net.UnixAddr:
		return l.addr, remote
	case *net.TCPAddr:
		if !a.IP.IsUnspecified() {
			return l.addr, remote // the one address it is bound to
		}
	}
	// A wildcard bind answers on many addresses: ask which one.
	if lsa, err := unix.Getsockname(fd); err == nil {
		return sockaddrToAddr(lsa), remote
	}
	return l.addr, remote
}

func sockaddrToAddr(sa unix.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)))
	case *unix.SockaddrInet6:
		ip := netip.AddrFrom16(a.Addr).Unmap()
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(a.Port)))
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: a.Name, Net: "unix"}
	}
	return nil
}

// acceptLoop accepts connections while the worker has room for them
// (--worker-connections open, --threads busy) and serves each on its
// own goroutine.
func (s *Server) acceptLoop(ln *listener) {
	defer s.wg.Done()
	var failures acceptFailures
	for {
		if !s.reserveConn(ln) {
			return
		}
		fd, sa, err := ln.accept(s.stop)
		if err != nil {
			<-s.connSem
			if ln.closed.Load() || s.isDraining() || errors.Is(err, unix.EINVAL) {
				// A graceful stop: the listener closed, the wait for
				// room ended, or the master's stop shut the socket down
				// (it listens no more) before this worker heard of it.
				return
			}
			s.acceptFailed(&failures, err, "accept failed")
			continue
		}
		failures.ok()
		c := s.newConn(fd, sa, ln)
		if c == nil {
			<-s.connSem
			continue
		}
		select {
		case s.handoff <- c: // a goroutine that served one before
		default:
			go s.serveConns(c)
		}
	}
}

// acceptFailures is an accept loop's run of failed accepts (out of
// descriptors or memory, mostly), or the pass loop's of failed takes.
type acceptFailures struct {
	delay    time.Duration // the next back-off
	unlogged int           // failures since the last line
	loggedAt time.Time
	// starvedSince is when the current run of failures out of
	// descriptors began (makeRoom finding nothing to close); zero when
	// the last failure was not one.
	starvedSince time.Time
}

// Failed accepts back off from minAcceptBackoff, doubling up to
// maxAcceptBackoff, as net/http's Server does: the loop neither spins
// nor sleeps long through a short burst; they are logged once, then at
// most every acceptLogEvery with their count (a worker out of
// descriptors logged a line every 10 ms, 8 million a day).
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
	acceptLogEvery   = 10 * time.Second
	// starvedRetire is how long a worker goes on out of descriptors,
	// with no connection left that it could close for one, before it
	// asks to be replaced: what holds them then is the app (a leak), and
	// only a new process gets them back. Gunicorn's workers exit at the
	// first EMFILE; a short shortage (a burst of files the app opens and
	// closes) passes without one.
	starvedRetire = 10 * time.Second
)

// acceptFailed handles an accept (or a take of a passed connection)
// that failed other than by a stop, logged as msg. Out of descriptors,
// it first closes idle connections (makeRoom, the cheapest first, as
// when --worker-connections is full) to give some back: a new client
// then waits for a descriptor, not for an idle one's --keep-alive.
func (s *Server) acceptFailed(f *acceptFailures, err error, msg string) {
	now := time.Now()
	f.unlogged++
	if f.loggedAt.IsZero() || now.Sub(f.loggedAt) >= acceptLogEvery {
		s.log.Warn().Err(err).Int("failures", f.unlogged).Msg(msg)
		f.unlogged, f.loggedAt = 0, now
	}
	starved := false
	if errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) {
		starved = s.evictPending.Load() == 0 && s.makeRoom(now) == 0
	}
	s.retireIfStarved(f, starved, errors.Is(err, unix.EMFILE), now)
	f.delay = min(max(2*f.delay, minAcceptBackoff), maxAcceptBackoff)
	t := time.NewTimer(f.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.stop:
	}
}

// ok ends a run of failures: the next one backs off from the start.
func (f *acceptFailures) ok() { f.delay, f.starvedSince = 0, time.Time{} }

// retireIfStarved asks the master, once, to replace this worker when it
// has been out of its own descriptors (EMFILE, perProcess) with nothing
// to close for starvedRetire. ENFILE, the whole system's table full,
// counts toward no retirement: a new process would not fare better.
func (s *Server) retireIfStarved(f *acceptFailures, starved, perProcess bool, now time.Time) {
	if !starved {
		f.starvedSince = time.Time{}
		return
	}
	if f.starvedSince.IsZero() {
		f.starvedSince = now
	}
	if !perProcess || now.Sub(f.starvedSince) < starvedRetire || s.retire == nil || s.starvedRetired.Swap(true) {
		return
	}
	s.log.Error().Dur("for", now.Sub(f.starvedSince)).Int64("connections", s.openConns.Load()).
		Msg("out of file descriptors with no connection left to close: the app holds them (a leak?); replacing this worker gracefully")
	s.retire(false)
}
