package engine

import (
	"time"

	"golang.org/x/sys/unix"
)

// Retirement without lost requests. A worker retires on TERM, whatever
// the reason the master has (a HUP's new generation, a USR2 upgrade,
// --max-requests, memory recycling, TTOU, a graceful stop). A keep-alive
// client may send its next request at any moment, and a connection
// closed with that request on the wire or unread in the kernel loses it:
// the close answers it with a reset, and the client sees a broken
// connection, not an answer (wrk -c32 across two HUPs: 45 of 780k
// requests; with --max-requests 200: 590).
//
// So a retiring worker closes a connection only where no request can be
// lost, or where it would have closed anyway:
//   - a request in progress, or arriving later, is answered with
//     Connection: close (respond.go), and the client, told so, opens a
//     new connection for the next one (RFC 9112 §9.6);
//   - a response whose head went out before the retirement began
//     allowed keep-alive: its connection waits for one more request, as
//     an idle one does;
//   - an idle keep-alive connection waits for its next request as usual,
//     until its keep-alive timeout would end it anyway, but no longer
//     than retireIdleGrace from the start of the retirement; a new
//     connection that has not sent a byte yet waits freshGrace. A request
//     that arrives is answered, with Connection: close. When the wait
//     ends, bytes that arrived in the same instant are served too
//     (unread), and only a connection with nothing to read is closed.
//
// What remains is the race every keep-alive timeout has: a client that
// sends on a connection idle for the whole wait, in the instant between
// the close and its kernel receiving the FIN (on loopback, microseconds).
// With the default --keep-alive (2 s) a retirement adds no close that
// the timeout would not have made. docs/worker.md has the figures.

// retireIdleGrace bounds how long a retiring worker waits for the next
// request on an idle connection: clients that use a connection send on
// it well within this, and a retirement of a worker with long keep-alive
// timeouts (--keep-alive 75 behind nginx) is not drawn out. It is also
// kept under half of --graceful-timeout, after which the master kills
// the worker.
const retireIdleGrace = 5 * time.Second

// freshGrace is how long a retiring worker lets a connection that has
// not sent a byte yet start its request. Clients send their first
// request as soon as they connect; waiting as long as --header-timeout
// would let silent connections hold up every stop.
const freshGrace = time.Second

// beginRetirement fixes the retirement's idle deadlines; drain calls it
// before closing stop, which publishes them to the connections.
func (s *Server) beginRetirement(now time.Time) {
	grace := retireIdleGrace
	if gt := s.cfg.GracefulTimeout; gt > 0 {
		grace = min(grace, gt/2)
	}
	s.retireBy = now.Add(grace)
	s.retireFreshBy = now.Add(min(grace, freshGrace))
}

// retireIdleBy is when a retiring worker closes the connections still
// idle: fresh ones (no byte sent yet) sooner. Valid once stop is closed.
func (s *Server) retireIdleBy(fresh bool) time.Time {
	if fresh {
		return s.retireFreshBy
	}
	return s.retireBy
}

// earliest returns the earlier of two deadlines, the zero time meaning
// none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// readDeadline is the read deadline last set; zero when none.
func (s *sock) readDeadline() time.Time {
	if n := s.rdl.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// unread is how many bytes the kernel holds for the socket to read
// (FIONREAD); 0 when it cannot tell.
func (s *sock) unread() int {
	n := 0
	s.rc.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ); err == nil {
			n = v
		}
	})
	return n
}
