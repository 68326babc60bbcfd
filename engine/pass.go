package engine

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Passing a connection to a sibling worker. A keep-alive connection
// belongs to the worker that accepted it, so a request that arrives on
// it while that worker's Python threads are all busy waits for them,
// however long, while a sibling may be idle: with Gunicorn's sync
// worker (--threads 1) one slow request held up every keep-alive client
// of its worker (behind nginx `keepalive` upstreams, load balancers,
// connection pools), where Gunicorn, without keep-alive, makes only the
// slow request's own client wait.
//
// So a request that has waited passAfter for a thread, before its head
// is read, while every thread has been in its call for passAfterCall,
// moves: the worker sends the connection's descriptor
// (SCM_RIGHTS) with the bytes it has already read on a SOCK_SEQPACKET
// socket pair the master made and every worker shares (PassSockets),
// and goes on. Whichever worker has room takes it from the other end,
// through the accept gate as if it had accepted it, and serves the
// request; the client sees nothing of it. The pair is a second, shared
// queue: a message waits there until a worker has room, possibly the
// one that sent it. While one already waits there, no worker passes
// another: the siblings are busy too, and passing would only move the
// wait. TLS connections stay (their session state lives in the
// worker), as do --protocol uwsgi ones (nginx's uwsgi_pass does not
// keep connections). A worker that stops takes whatever is still queued,
// room or not (passLoop), so that no passed connection is left with
// nobody to take it.

// passAfter is how long a request waits for a Python thread before its
// connection may go to a sibling (once passAfterCall also holds). A
// worker busy with a stream of short calls has requests waiting in line,
// and a newcomer joins them rather than wait to pass (awaitThreadOrPass).
const passAfter = 20 * time.Millisecond

// passAfterCall: a request passes only once every thread of its worker
// has been in its current call this long, the mark of a slow request
// (a report, an upstream that hangs) holding the worker up. Calls of
// tens of milliseconds are a busy worker, whose siblings are as busy:
// with 4 keep-alive clients of 50 ms calls on 2 workers, passing after
// passAfter alone moved a third of the requests and took p99 from 154
// to 257-305 ms, as passed connections waited in the shared queue
// behind the siblings' own requests.
const passAfterCall = time.Second

// PassSockets are the two ends of the socket pair the workers share to
// pass connections: a worker sends on Send and takes from Receive.
// Descriptors the server takes over.
type PassSockets struct{ Send, Receive int }

// passMax bounds a pass message: the read buffer's bytes plus the
// connection's addresses.
const passMax = readBufferSize + 512

// passer is a worker's side of the pass sockets.
type passer struct {
	send, recv *os.File
	sendRC     syscall.RawConn
	recvRC     syscall.RawConn
	gate       *gate
	wake       chan struct{} // the gate's signal that there is room again

	// The take in progress, for takeFn (bound once, no allocation);
	// the pass loop's only. anyRoom: take one whether or not there is
	// room (a stopping worker).
	anyRoom bool
	full    bool
	nfd     int
	msg     []byte
	err     error
	buf     [passMax]byte
	oob     []byte
	takeFn  func(fd uintptr) bool
}

func newPasser(ps PassSockets, g *gate, wake chan struct{}) (*passer, error) {
	// Non-blocking before os.NewFile, which then has the runtime poller
	// wait for them.
	for _, fd := range []int{ps.Send, ps.Receive} {
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(ps.Send)
			unix.Close(ps.Receive)
			return nil, err
		}
	}
	p := &passer{gate: g, wake: wake, oob: make([]byte, unix.CmsgSpace(4))}
	p.send, p.recv = os.NewFile(uintptr(ps.Send), "pass-send"), os.NewFile(uintptr(ps.Receive), "pass-receive")
	var err error
	if p.sendRC, err = p.send.SyscallConn(); err == nil {
		p.recvRC, err = p.recv.SyscallConn()
	}
	if err != nil {
		p.close()
		return nil, err
	}
	p.takeFn = p.takeFD
	return p, nil
}

func (p *passer) close() {
	p.send.Close()
	p.recv.Close()
}

// queued reports whether a passed connection waits for a worker.
func (p *passer) queued() bool {
	queued := false
	p.recvRC.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		queued = err == nil && n > 0
	})
	return queued
}

// mayPass reports whether c, whose next request has begun to arrive,
// could be passed to a sibling: a plain HTTP connection with nothing of
// its own pending. What it has read fits a message (passMax).
func (c *conn) mayPass() bool {
	return c.nc.tls == nil && c.nc.tlsFront == nil && c.offered < 0 && len(c.out.pending()) == 0
}

// awaitThreadOrPass runs when a request has begun to arrive, before it
// is read. When every Python thread is in a call and no request waits
// in line for one (a long call holds the worker up, rather than a
// steady stream of short ones), it waits for a thread to be given
// back; once that has taken passAfter and every call has run for
// passAfterCall, it passes the connection to a sibling, unless another
// passed connection still waits for one (they are all busy too). It
// reports whether it passed the connection, which is then no longer
// this worker's: close it.
func (c *conn) awaitThreadOrPass() bool {
	s := c.srv
	if s.passer == nil {
		return false
	}
	freed := s.slots.freed()
	if freed == nil || !c.mayPass() {
		return false
	}
	t := time.NewTimer(passAfter)
	defer t.Stop()
	for {
		select {
		case <-freed:
			return false
		case <-s.stop:
			return false
		case <-t.C:
		}
		if young := passAfterCall - s.youngestCall(); young > 0 {
			t.Reset(max(young, passAfter))
			continue
		}
		if !s.passer.queued() {
			return s.passer.pass(c)
		}
		t.Reset(passAfter)
	}
}

// youngestCall is how long the most recent of the calls in flight has
// run; 0 when a slot is free.
func (s *Server) youngestCall() time.Duration {
	now := time.Now().UnixNano()
	youngest := int64(math.MaxInt64)
	for _, sl := range s.allSlots {
		since := sl.call.since.Load()
		if since == 0 {
			return 0
		}
		youngest = min(youngest, now-since)
	}
	return time.Duration(max(youngest, 0))
}

// pass sends c's descriptor and what was read of it. The message is
// REMOTE_ADDR and REMOTE_PORT as this worker has them (the PROXY
// protocol's client, if it replaced the peer), each ended by a NUL,
// then the bytes read.
// Any serve goroutine: the message is its own (passes are rare).
func (p *passer) pass(c *conn) bool {
	buffered, _ := c.br.Peek(c.br.Buffered())
	msg := make([]byte, 0, len(c.info.RemoteAddr)+len(c.info.RemotePort)+2+len(buffered))
	msg = append(msg, c.info.RemoteAddr...)
	msg = append(msg, 0)
	msg = append(msg, c.info.RemotePort...)
	msg = append(msg, 0)
	msg = append(msg, buffered...)
	var err error
	c.nc.rc.Control(func(cfd uintptr) {
		p.sendRC.Control(func(sfd uintptr) {
			err = unix.Sendmsg(int(sfd), msg, unix.UnixRights(int(cfd)), nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
		})
	})
	switch {
	case err == nil:
		c.srv.log.Debug().Str("client", c.info.RemoteAddr).Msg("a request waited for a thread; its connection goes to a sibling worker")
	case !errors.Is(err, unix.EAGAIN):
		c.srv.log.Warn().Err(err).Msg("cannot pass a connection to a sibling worker")
	}
	return err == nil
}

// take waits for a passed connection and for room to take it, as
// listener.accept does for a new one, and returns its descriptor and
// message. It fails once the server stops.
func (p *passer) take(stop <-chan struct{}) (int, []byte, error) {
	for {
		p.full, p.nfd, p.msg, p.err = false, -1, nil, nil
		if err := p.recvRC.Read(p.takeFn); err != nil {
			return -1, nil, err
		}
		if !p.full {
			return p.nfd, p.msg, p.err
		}
		select {
		case <-p.wake:
		case <-stop:
			return -1, nil, net.ErrClosed
		}
	}
}

// takeFD runs inside recvRC.Read, as listener.acceptFD does.
func (p *passer) takeFD(fd uintptr) bool {
	if !p.anyRoom && !p.gate.hasRoom() {
		p.full = true
		return true
	}
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(fd), p.buf[:], p.oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
		switch err {
		case nil:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			p.err = os.NewSyscallError("recvmsg", err)
			return true
		}
		nfd := passedFD(p.oob[:oobn])
		if nfd < 0 {
			continue // not a pass message: nothing to serve
		}
		p.gate.add()
		p.nfd, p.msg = nfd, p.buf[:n]
		return true
	}
}

// passedFD is the descriptor a pass message carries, or -1.
func passedFD(oob []byte) int {
	scms, err := unix.ParseSocketControlMessage(oob)
	if err != nil || len(scms) != 1 {
		return -1
	}
	fds, err := unix.ParseUnixRights(&scms[0])
	if err != nil || len(fds) == 0 {
		return -1
	}
	for _, extra := range fds[1:] {
		unix.Close(extra)
	}
	return fds[0]
}

// newPasser sets up passing on ps, or closes them and returns nil when
// there are no siblings or they cannot be used.
func (s *Server) newPasser(ps PassSockets, siblings bool) *passer {
	if !siblings {
		unix.Close(ps.Send)
		unix.Close(ps.Receive)
		return nil
	}
	p, err := newPasser(ps, s.gate, s.gate.wake[len(s.gate.wake)-1])
	if err != nil {
		s.log.Warn().Err(err).Msg("cannot pass connections to sibling workers")
		return nil
	}
	return p
}

// passLoop takes the connections siblings pass, while the worker has
// room, and serves each as a new one; once the worker stops, it takes
// what is left (takeLeftovers).
func (s *Server) passLoop() {
	defer s.wg.Done()
	p := s.passer
	var failures acceptFailures
	for {
		select {
		case s.connSem <- struct{}{}:
		case <-s.stop:
			s.takeLeftovers()
			return
		}
		fd, msg, err := p.take(s.stop)
		if err != nil {
			<-s.connSem
			if s.isDraining() {
				s.takeLeftovers()
				return
			}
			s.acceptFailed(&failures, err, "taking a passed connection failed")
			continue
		}
		failures.ok()
		s.servePassed(fd, msg)
	}
}

// servePassed serves a passed connection, its place in connSem taken.
func (s *Server) servePassed(fd int, msg []byte) {
	c := s.adoptConn(fd, msg)
	if c == nil {
		<-s.connSem
		return
	}
	select {
	case s.handoff <- c:
	default:
		go s.serveConns(c)
	}
}

// takeLeftovers: a stopping worker takes every passed connection still
// queued, room or not, and answers it (with Connection: close, as any
// request during a stop), until none is queued and it serves nothing
// else. Otherwise a connection passed while every worker was busy was
// lost when they all stopped: the master's quiesce waits for the queue
// only up to half --graceful-timeout, and after USR2 not at all.
func (s *Server) takeLeftovers() {
	p := s.passer
	p.anyRoom = true
	for {
		// A wait bounded so the worker's own end is seen.
		p.recv.SetReadDeadline(time.Now().Add(leftoverPoll))
		p.nfd, p.msg, p.err = -1, nil, nil
		err := p.recvRC.Read(p.takeFn)
		switch {
		case err == nil && p.err == nil:
			s.connSem <- struct{}{}
			s.servePassed(p.nfd, p.msg)
		case errors.Is(err, os.ErrDeadlineExceeded):
			if s.openConns.Load() == 0 {
				return
			}
		default:
			return
		}
	}
}

// leftoverPoll is how often a stopping worker with nothing left to take
// looks whether it serves anything still.
const leftoverPoll = 50 * time.Millisecond

// adoptConn registers a connection a sibling passed, with the bytes it
// had read buffered as if read here; nil when it cannot be set up.
func (s *Server) adoptConn(fd int, msg []byte) *conn {
	addr, rest, ok1 := bytes.Cut(msg, []byte{0})
	port, data, ok2 := bytes.Cut(rest, []byte{0})
	if err := unix.SetNonblock(fd, true); err != nil || !ok1 || !ok2 {
		unix.Close(fd)
		s.gate.done()
		return nil
	}
	var local, remote net.Addr
	if sa, err := unix.Getsockname(fd); err == nil {
		local = sockaddrToAddr(sa)
	}
	if sa, err := unix.Getpeername(fd); err == nil {
		remote = sockaddrToAddr(sa)
	}
	if local == nil {
		unix.Close(fd)
		s.gate.done()
		return nil
	}
	if remote == nil { // a unix socket's client has no name
		remote = &net.UnixAddr{Net: "unix"}
	}
	sk, err := newSock(fd, s.gate, local, remote)
	if err != nil {
		s.gate.done()
		return nil
	}
	c := s.spareConn()
	c.open(s, sk, time.Now())
	c.fresh = false // not a new client: no first-request hold
	c.passed = true // nor a PROXY header
	c.info.RemoteAddr, c.info.RemotePort = string(addr), string(port)
	c.client = c.info.RemoteAddr
	data = bytes.Clone(data)
	if c.br == nil {
		c.newReader()
	}
	c.br.Reset(io.MultiReader(bytes.NewReader(data), sk))
	s.register(c)
	return c
}
