package engine

import (
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxIov bounds the buffers one sendmsg takes; a response step frames
// into at most 9 (buffered bytes, head, two chunks with their size
// lines and CRLFs, the last chunk).
const maxIov = 16

// sock is one client connection's socket. The worker reads and writes it
// with its own system calls through the runtime poller
// (syscall.RawConn) rather than through net.Conn, for three things
// net.Conn cannot give: knowing when the connection waits on its peer
// (the load the accept gate counts), a write that never blocks (so a
// Python thread never waits on a client), and a write timeout that
// measures progress rather than the whole write.
//
// It is also a net.Conn, for code that needs no more than that. A sock
// is used by its connection goroutine only, except SetReadDeadline
// (drain, a streamed body's stop), Close, and Read by the feeder of a
// streamed request body (bodystream.go) while the connection goroutine
// does not read.
type sock struct {
	f             *os.File        // never nil; owns the descriptor
	rc            syscall.RawConn // f's
	gate          *gate           // never nil; the socket counts 1 in it while it does not wait on its peer
	local, remote net.Addr        // immutable

	// state says whether the socket counts in load: counted, waiting (on
	// its peer, not counted) or held (waiting but still counted until
	// the hold timer releases it). The hold timer is the only other
	// goroutine that changes it.
	state atomic.Int32
	// hold, while set, makes a read that waits go to held, not waiting.
	hold bool

	// The system call in progress, for the callbacks bound once in
	// newSock, so a read or write allocates nothing. A read and a write
	// may be in progress at once (a streamed request body is read while
	// the response is written): each has its own fields.
	p     []byte
	rn    int
	rerr  error
	bufs  [][]byte
	block bool // writev: wait for the peer instead of returning 0
	// more: sendmsg with MSG_MORE, the kernel holding a last partial
	// segment for what follows; whatever is sent next must push it.
	more bool
	n    int
	err  error
	iov  [maxIov]unix.Iovec
	msg  unix.Msghdr

	readFn, writeFn, peekFn func(fd uintptr) bool

	// head is the rate deadline of a request head in progress (room.go).
	head headRate

	// The deadlines last set, in Unix nanoseconds (0 = none), so that
	// setReadDeadlineNear and setWriteDeadlineNear can leave them.
	rdl, wdl atomic.Int64
	// written counts the bytes sendmsg took, so a contained panic knows
	// whether a response had begun (panic.go); the hold timer writes too.
	written atomic.Int64

	// tlsFront is set by newConn on a TLS listener, before serve. tls,
	// when set (once, by startTLS before the first request), takes Read
	// and writev through TLS: tls.go. A failed handshake unsets it
	// (closeRefusedTLS).
	tls      *tlsLayer
	tlsFront *tlsFront
}

var (
	_ net.Conn     = (*sock)(nil)
	_ syscall.Conn = (*sock)(nil)
)

// newSock takes ownership of fd, a connected, non-blocking socket,
// already counted in l as not waiting.
func newSock(fd int, l *gate, local, remote net.Addr) (*sock, error) {
	f := os.NewFile(uintptr(fd), "")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	s := &sock{f: f, rc: rc, gate: l, local: local, remote: remote}
	s.readFn, s.writeFn, s.peekFn = s.readFD, s.writeFD, s.peekFD
	return s, nil
}

// deadlineSlack: a deadline may end up to its timeout divided by this
// early, rather than be moved for every request or read.
const deadlineSlack = 16

// States of sock.state.
const (
	sockCounted int32 = iota
	sockWaiting
	sockHeld
)

// Close closes the socket and takes it out of the load.
func (s *sock) Close() error {
	if s.tls != nil {
		s.tls.closeNotify()
	}
	s.beginWait()
	return s.f.Close()
}

func (s *sock) LocalAddr() net.Addr  { return s.local }
func (s *sock) RemoteAddr() net.Addr { return s.remote }

func (s *sock) SetDeadline(t time.Time) error {
	s.rdl.Store(deadlineNanos(t))
	s.wdl.Store(deadlineNanos(t))
	return s.f.SetDeadline(t)
}

func (s *sock) SetReadDeadline(t time.Time) error {
	s.rdl.Store(deadlineNanos(t))
	return s.f.SetReadDeadline(t)
}

func (s *sock) SetWriteDeadline(t time.Time) error {
	s.wdl.Store(deadlineNanos(t))
	return s.f.SetWriteDeadline(t)
}

// setReadDeadlineNear sets the read deadline to t, unless the one in
// force ends at most slack before t: moving the runtime's timer cost
// more than the rest of a small request's bookkeeping, and a keep-alive
// or body wait that ends a little early still bounds what it must.
// The deadline is never later than t.
func (s *sock) setReadDeadlineNear(t time.Time, slack time.Duration) {
	if !deadlineNear(s.rdl.Load(), deadlineNanos(t), slack) {
		s.SetReadDeadline(t)
	}
}

// setWriteDeadlineNear is setReadDeadlineNear for writes.
func (s *sock) setWriteDeadlineNear(t time.Time, slack time.Duration) {
	if !deadlineNear(s.wdl.Load(), deadlineNanos(t), slack) {
		s.SetWriteDeadline(t)
	}
}

// deadlineNear reports whether deadline cur may stand for want: both
// none, or cur no later than want and at most slack earlier.
func deadlineNear(cur, want int64, slack time.Duration) bool {
	if cur == 0 || want == 0 {
		return cur == want
	}
	return cur <= want && want-cur <= int64(slack)
}

func deadlineNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// SyscallConn gives direct access to the descriptor (sendfile).
func (s *sock) SyscallConn() (syscall.RawConn, error) { return s.rc, nil }

// pending is how many bytes wait in the socket's receive queue
// (SIOCINQ), 0 when it cannot tell.
func (s *sock) pending() int {
	n := 0
	s.rc.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ); err == nil {
			n = v
		}
	})
	return n
}

// Write writes all of p, waiting for the peer up to the write deadline,
// as net.Conn's Write does.
func (s *sock) Write(p []byte) (int, error) {
	var one [1][]byte
	one[0] = p
	written := 0
	for written < len(p) {
		n, err := s.writev(one[:], true)
		written += n
		if err != nil {
			return written, err
		}
		one[0] = p[written:]
	}
	return written, nil
}

// beginWait marks the socket as waiting on its peer: it no longer counts
// as load (held: not yet). endWait undoes either.
func (s *sock) beginWait() {
	if s.hold {
		s.state.CompareAndSwap(sockCounted, sockHeld)
		return
	}
	if s.state.Swap(sockWaiting) != sockWaiting {
		s.gate.done()
	}
}

func (s *sock) endWait() {
	if s.state.Swap(sockCounted) == sockWaiting {
		s.gate.add()
	}
}

// releaseHold ends a hold: a read still waiting stops counting. Called
// by the hold timer, on its own goroutine.
func (s *sock) releaseHold() {
	if s.state.CompareAndSwap(sockHeld, sockWaiting) {
		s.gate.done()
	}
}

// Read reads what the socket has, waiting (up to the read deadline) when
// it has nothing yet; through TLS once the handshake is done.
func (s *sock) Read(p []byte) (int, error) {
	if s.tls != nil {
		return s.tls.read(p, s.tlsFront)
	}
	return s.readRaw(p)
}

// readRaw reads the socket itself.
func (s *sock) readRaw(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.p = p
	err := s.rc.Read(s.readFn)
	s.p = nil
	s.endWait()
	if err != nil {
		return 0, err // deadline exceeded or closed
	}
	if s.rerr != nil {
		return 0, s.rerr
	}
	if s.rn == 0 {
		return 0, io.EOF
	}
	if s.head.rate > 0 {
		s.headProgress(s.rn)
	}
	return s.rn, nil
}

// readFD runs on the connection goroutine inside rc.Read. The socket
// is non-blocking, so the read never waits in the kernel: a raw system
// call skips the scheduler's bookkeeping for one that might, which cost
// as much as the read itself.
func (s *sock) readFD(fd uintptr) bool {
	for {
		r, _, errno := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(s.p))), uintptr(len(s.p)))
		switch errno {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			s.beginWait()
			return false
		case 0:
			s.rn, s.rerr = int(r), nil
		default:
			s.rn, s.rerr = 0, os.NewSyscallError("read", errno)
		}
		return true
	}
}

// tryWritev sends what the socket takes of bufs at once, with one
// sendmsg, and returns how many bytes that was; 0 when its send buffer
// is full.
func (s *sock) tryWritev(bufs [][]byte) (int, error) {
	return s.writev(bufs, false)
}

// writeAll sends all of bufs, waiting for the peer as needed; the
// timeout (0 = none) bounds each wait for progress, not the whole write,
// so a slow reader that keeps reading is served to the end. It consumes
// bufs' elements.
func (s *sock) writeAll(bufs [][]byte, timeout time.Duration) error {
	// Through TLS, ciphertext of earlier writes may still wait: sent too.
	for bufs = skipEmpty(bufs); len(bufs) > 0 || s.tls != nil && s.tls.unsent(); bufs = skipEmpty(bufs) {
		if timeout > 0 {
			s.setWriteDeadlineNear(time.Now().Add(timeout), timeout/deadlineSlack)
		}
		n, err := s.writev(bufs, true)
		if err != nil {
			return err
		}
		consume(bufs, n)
	}
	return nil
}

func (s *sock) writev(bufs [][]byte, block bool) (int, error) {
	if s.tls != nil {
		return s.tls.writev(bufs, block)
	}
	return s.writevRaw(bufs, block)
}

// writevRaw writes the socket itself.
func (s *sock) writevRaw(bufs [][]byte, block bool) (int, error) {
	s.bufs, s.block = bufs, block
	err := s.rc.Write(s.writeFn)
	s.bufs = nil
	s.endWait()
	if err != nil {
		return 0, err
	}
	s.written.Add(int64(s.n))
	return s.n, s.err
}

// writeFD runs on the connection goroutine inside rc.Write. MSG_NOSIGNAL:
// a client gone away is an error to handle, not a SIGPIPE. A raw system
// call, as in readFD: the socket is non-blocking.
func (s *sock) writeFD(fd uintptr) bool {
	niov := 0
	for _, b := range s.bufs {
		if len(b) == 0 {
			continue
		}
		if niov == maxIov {
			break
		}
		s.iov[niov].Base = unsafe.SliceData(b)
		s.iov[niov].SetLen(len(b))
		niov++
	}
	if niov == 0 {
		s.n, s.err = 0, nil
		return true
	}
	s.msg.Iov = &s.iov[0]
	s.msg.SetIovlen(niov)
	defer s.clearIov(niov)
	for {
		flags := uintptr(unix.MSG_NOSIGNAL)
		if s.more {
			flags |= unix.MSG_MORE
		}
		r, _, errno := unix.RawSyscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&s.msg)), flags)
		switch errno {
		case 0:
			s.n, s.err = int(r), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			if s.block {
				s.beginWait()
				return false
			}
			s.n, s.err = 0, nil
		default:
			s.n, s.err = 0, os.NewSyscallError("sendmsg", errno)
		}
		return true
	}
}

// clearIov forgets the buffers just sent: some point into Python memory
// that is freed after the step, and must not look like live pointers.
func (s *sock) clearIov(n int) {
	clear(s.iov[:n])
	s.msg.Iov = nil
}

// consume drops the first n bytes from bufs, in place.
func consume(bufs [][]byte, n int) {
	for i := range bufs {
		if n == 0 {
			return
		}
		k := min(n, len(bufs[i]))
		bufs[i] = bufs[i][k:]
		n -= k
	}
}

// skipEmpty drops the leading empty buffers.
func skipEmpty(bufs [][]byte) [][]byte {
	for len(bufs) > 0 && len(bufs[0]) == 0 {
		bufs = bufs[1:]
	}
	return bufs
}
