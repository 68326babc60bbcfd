package engine

import (
	"cmp"
	"errors"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gowsgi/gowsgi/handoff"
	"golang.org/x/sys/unix"
)

// Connection floods (issue 28). An idle connection costs a goroutine and
// little else (docs/worker.md has the figure), so a worker holds tens of
// thousands (--worker-connections, bounded by the descriptor limit). When
// it is full and connections wait in the listen queue, it does not stop
// accepting: it makes room by closing those that cost the most and give
// the least, in this order, oldest first within each:
//
//  1. fresh: accepted, not a byte sent yet;
//  2. stalled mid-head: a request head begun over headStallAge ago and
//     still not whole (a slowloris drip);
//  3. idle keep-alive: waiting for the next request.
//
// A connection whose request is being read (its head arriving, its body),
// waits for a Python thread, runs, or is being answered is never closed
// to make room. Beyond the limit, two deadlines bound what a connection
// can hold without sending: --first-byte-timeout for a new connection's
// first byte (nginx's client_header_timeout), and --header-min-rate for a
// head in progress (Apache mod_reqtimeout's MinRate): after the first
// --first-byte-timeout, one second more per header_min_rate bytes
// received, never past --header-timeout.

// evictReason says why makeRoom cut a connection's wait; notEvicted
// when it did not.
type evictReason uint8

const (
	notEvicted evictReason = iota
	evictedFresh
	evictedHead
	evictedIdle
)

// The reasons a connection was closed early, as counted for /metrics.
var closeReasons = [...]string{
	evictedFresh:  handoff.ClosedEvictedFresh,
	evictedHead:   handoff.ClosedEvictedHead,
	evictedIdle:   handoff.ClosedEvictedIdle,
	firstByteLate: handoff.ClosedFirstByte,
	headTooSlow:   handoff.ClosedSlowHead,
}

// Closes counted beyond the evictions.
const (
	firstByteLate evictReason = iota + evictedIdle + 1
	headTooSlow
)

const (
	// headStallAge: a head in progress for less long is a client
	// sending its request, never evicted. Normal heads arrive whole.
	headStallAge = time.Second
	// roomCheck is how often a full worker looks for connections queued
	// for it while it has no room.
	roomCheck = 20 * time.Millisecond
	// maxEvictBatch bounds the connections one makeRoom closes: a batch
	// spares a scan of every connection per newcomer.
	maxEvictBatch = 64
)

// aLongTimeAgo is a read deadline that has passed: setting it cuts a
// wait at once.
var aLongTimeAgo = time.Unix(1, 0)

// roomStats counts the early closes by reason; read by the stats
// reporter, which alone uses logged and loggedAt.
type roomStats struct {
	closed   [len(closeReasons)]atomic.Uint64
	logged   [len(closeReasons)]uint64 // the counts at the last log line
	loggedAt time.Time
}

// roomLogEvery bounds how often a worker logs its early closes: a flood
// closes thousands of connections, and gets one line per period.
const roomLogEvery = 10 * time.Second

// snapshot returns the counts by reason name, without the zeros.
func (r *roomStats) snapshot() map[string]uint64 {
	var m map[string]uint64
	for i := range r.closed {
		if n := r.closed[i].Load(); n > 0 {
			if m == nil {
				m = map[string]uint64{}
			}
			m[closeReasons[i]] = n
		}
	}
	return m
}

// log writes one line with the closes since the last line, at most
// every roomLogEvery, and only when there were some.
func (r *roomStats) log(s *Server, now time.Time, counts map[string]uint64) {
	if now.Sub(r.loggedAt) < roomLogEvery {
		return
	}
	ev := s.log.Warn()
	any := false
	for i, name := range closeReasons {
		if name == "" {
			continue
		}
		n := counts[name]
		if d := n - r.logged[i]; d > 0 {
			ev = ev.Uint64(name, d)
			any = true
		}
		r.logged[i] = n
	}
	if !any {
		ev.Discard()
		return
	}
	r.loggedAt = now
	ev.Int("worker_connections", cap(s.connSem)).
		Msg("connections closed early: evicted to make room, or too slow to send a request")
}

// connLimit is the number of connections a worker keeps open: the
// configured one, lowered to what its descriptor limit allows.
func connLimit(configured int) int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return max(configured, 1)
	}
	return handoff.ConnLimit(configured, rl.Cur)
}

// isEvicted reports whether makeRoom cut the connection's wait.
func (c *conn) isEvicted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.evicted != notEvicted
}

// noteWaitEnd counts a wait for a request's first byte that ended
// without one: a fresh connection's first-byte timeout, or an eviction.
func (s *Server) noteWaitEnd(err error, fresh bool, ev evictReason) {
	switch {
	case ev != notEvicted:
		s.room.closed[ev].Add(1)
	case fresh && errors.Is(err, os.ErrDeadlineExceeded) && !s.isDraining():
		s.room.closed[firstByteLate].Add(1)
	}
}

// beginHead marks a request head that is not whole in the buffer as in
// progress, and bounds it: --header-timeout, and with --header-min-rate
// the rate deadline (sock.headProgress).
func (c *conn) beginHead() {
	now := time.Now()
	c.mu.Lock()
	c.inHead, c.since = true, now.UnixNano()
	c.mu.Unlock()
	s := c.srv
	if s.cfg.HeaderMinRate <= 0 || s.firstByteTimeout <= 0 { // no minimum, or no time limits at all
		c.readDeadline(s.headerTimeout)
		return
	}
	c.nc.head = headRate{start: now, grace: s.firstByteTimeout, most: s.headerTimeout, rate: int64(s.cfg.HeaderMinRate)}
	c.nc.SetReadDeadline(c.nc.head.deadline())
}

// endHead ends a head in progress; err is how reading it ended.
func (c *conn) endHead(err error) {
	c.nc.head = headRate{}
	c.mu.Lock()
	ev := c.evicted
	c.inHead, c.evicted = false, notEvicted
	c.mu.Unlock()
	if ev != notEvicted {
		c.srv.evictPending.Add(-1)
	}
	switch {
	case err == nil && ev != notEvicted:
		c.nc.SetReadDeadline(time.Time{}) // whole after all: serve it
	case err == nil:
	case ev != notEvicted:
		c.srv.room.closed[ev].Add(1)
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.srv.room.closed[headTooSlow].Add(1)
	}
}

// headRate is the deadline of a head in progress under --header-min-rate:
// grace from its first byte, plus a second per rate bytes received, at
// most most (0 = no cap). Used by the connection goroutine only.
type headRate struct {
	start       time.Time
	grace, most time.Duration
	rate, bytes int64 // rate 0: not reading a head
}

func (h *headRate) deadline() time.Time {
	d := h.grace + time.Duration(h.bytes*int64(time.Second)/h.rate)
	if h.most > 0 && d > h.most {
		d = h.most
	}
	return h.start.Add(d)
}

// headProgress moves a head's deadline on for n bytes received; only
// by whole seconds of credit, so a drip does not move it per byte.
func (s *sock) headProgress(n int) {
	before := s.head.bytes / s.head.rate
	s.head.bytes += int64(n)
	if s.head.bytes/s.head.rate != before {
		s.SetReadDeadline(s.head.deadline())
	}
}

// waitReadable waits, up to the read deadline, until the socket has a
// byte to read (or its peer closed), without a buffer to read into: a
// connection that sends nothing holds none.
func (s *sock) waitReadable() error {
	err := s.rc.Read(s.peekFn)
	s.endWait()
	return err
}

// peekFD runs inside rc.Read: a one-byte MSG_PEEK tells whether there
// is something to read without taking it.
func (s *sock) peekFD(fd uintptr) bool {
	var b [1]byte
	for {
		_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			s.beginWait()
			return false
		}
		return true // a byte, the peer's FIN, or an error the read will see
	}
}

// candidate is a connection makeRoom may close.
type candidate struct {
	c      *conn
	reason evictReason
	since  int64
	client string
}

// makeRoom closes up to a batch of connections, the cheapest first
// (see the top of this file), to make room for connections waiting in
// the listen queue. It reports how many it closed.
//
// Within a class, the connections of the client holding the most places
// go first: one address flooding a worker loses its own connections
// before another client's. The address is the peer's, or the PROXY
// protocol's source; not a forwarded header, which a proxy sends per
// request, not per connection.
func (s *Server) makeRoom(now time.Time) int {
	want := min(max(cap(s.connSem)/64, 1), maxEvictBatch)
	stalled := now.Add(-headStallAge).UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	cands := s.evictScratch[:0]
	if s.clientPlaces == nil {
		s.clientPlaces = map[string]int{}
	}
	held := s.clientPlaces
	for c := range s.conns {
		c.mu.Lock()
		held[c.client]++
		r := notEvicted
		switch {
		case c.evicted != notEvicted:
		case c.idle && c.fresh:
			r = evictedFresh
		case c.inHead && c.since < stalled:
			r = evictedHead
		case c.idle:
			r = evictedIdle
		}
		if r != notEvicted {
			cands = append(cands, candidate{c: c, reason: r, since: c.since, client: c.client})
		}
		c.mu.Unlock()
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.reason, b.reason), cmp.Compare(held[b.client], held[a.client]),
			cmp.Compare(a.since, b.since))
	})
	clear(held)
	n := 0
	for _, cd := range cands {
		if n == want {
			break
		}
		if cd.c.evict(cd.reason, cd.since) {
			n++
		}
	}
	clear(cands)
	s.evictScratch = cands[:0]
	return n
}

// evict cuts the connection's wait if it is still the one makeRoom
// chose: its goroutine then closes it, unless a request arrived.
func (c *conn) evict(r evictReason, since int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.since != since || c.evicted != notEvicted || !(c.idle || c.inHead) {
		return false
	}
	c.evicted = r
	c.srv.evictPending.Add(1)
	c.nc.SetReadDeadline(aLongTimeAgo)
	return true
}

// queued reports whether connections wait in the listen queue.
func (l *listener) queued() bool {
	queued := false
	l.rc.Control(func(fd uintptr) {
		pfd := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd[:], 0)
		queued = err == nil && n > 0 && pfd[0].Revents&unix.POLLIN != 0
	})
	return queued
}

// reserveConn takes one of the worker's connection places for the next
// connection ln accepts, making room while connections wait for one. It
// returns false when a graceful stop begins.
func (s *Server) reserveConn(ln *listener) bool {
	select {
	case s.connSem <- struct{}{}:
		return true
	default:
	}
	t := time.NewTicker(roomCheck)
	defer t.Stop()
	for {
		// Evicted connections free their places within microseconds;
		// until they have, more would be evicted for the same newcomers.
		if s.evictPending.Load() == 0 && ln.queued() {
			s.makeRoom(time.Now())
		}
		select {
		case s.connSem <- struct{}{}:
			return true
		case <-s.stop:
			return false
		case <-t.C:
		}
	}
}
