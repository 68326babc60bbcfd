package engine

import (
	"sync/atomic"
	"time"
)

// The accept gate (gate) counts a worker's connections that can make progress without
// waiting on their peer: just accepted (and, for freshHold, waiting for
// its first request), reading a request that has arrived, waiting for or
// running in a Python thread, or writing to a client that keeps up.
// Connections idle between requests, slow uploaders and slow readers
// wait on their peer and do not count.
//
// The accept gate keeps load below the number of Python threads: a
// worker whose threads all have work (saturated, or stuck in an app
// call) leaves new connections in the shared listen queue, where an
// idle sibling takes them.
type gate struct {
	active atomic.Int64
	limit  int64 // immutable: --threads
	// shed enables closing keep-alive connections to rebalance them;
	// immutable: on when there are sibling workers to take them.
	shed bool
	// wake has one channel (capacity 1) per accept loop; done signals
	// them when load drops below the limit. Immutable after newGate.
	wake []chan struct{}
	// lastShed is when (unix ns) a keep-alive connection was last closed
	// to move it to a less busy worker.
	lastShed atomic.Int64
	// lastTake is when (unix ns) a request last took a Python thread: one
	// had been given back, so the threads are not all stuck.
	lastTake atomic.Int64
	// conns counts the worker's open connections; nil in tests of the
	// accept loop alone. Set before the first accept.
	conns func() int
	// lag is Options.AppLag; behind, how far it may lag before the
	// worker takes no new connection: appBehind with siblings,
	// soloBehind without. Set before the first accept.
	lag    func(probe bool) time.Duration
	behind time.Duration
}

// appBehind is how long an event loop must have left an event untaken
// before its worker stops taking new connections (keepsUp). An ASGI
// worker's threads are never all busy by the gate's count: its one
// loop runs every request, and a request awaiting a database holds a
// slot without being load. A blocked loop (a CPU-bound handler, a
// time.sleep) shows instead as events it does not take. Uvicorn's loop
// accepts in its own turn, so a blocked Uvicorn worker takes no
// connection, and its siblings get them; without this, gowsgi's Go side
// went on accepting for a blocked loop: of 10 connections opened at
// once while one of 2 workers spun for 3 s, 5 or 6 waited the 3 s.
//
// A healthy loop takes every waiting event each time round, so its lag
// is at most one round of its own work: about 1 ms for 64 hello
// requests, 3.5 ms for 64 FastAPI ones. Far enough above that, a
// saturated worker keeps accepting (a lower mark would leave
// connections queued between accept ticks while both workers are
// busy); a loop held for longer lets them go to a sibling that can
// start them sooner.
const appBehind = 10 * time.Millisecond

// soloBehind is appBehind for a worker without siblings. It has no one
// to leave connections to but its replacement: a loop blocked until
// --timeout kills the worker lost every connection accepted meanwhile
// (with -w 1, ten requests sent during a 3 s block all got an empty
// reply), where a blocked Uvicorn worker takes none, and the new worker
// serves them from the listen queue. A loop merely saturated must keep
// accepting (it has no sibling to take them), so the mark is far above
// a loaded loop's round: 100 ms, against 3.5 ms for 64 FastAPI requests.
const soloBehind = 100 * time.Millisecond

// keepsUp reports whether the app keeps up with the work it has: always
// for WSGI, whose threads the gate counts (hasRoom). Unlike hasRoom it
// holds even for a forced accept: a loop that takes no event would only
// hold the connection until it does.
func (l *gate) keepsUp() bool { return l.lag == nil || l.lag(true) < l.behind }

// shedEvery bounds how often a worker with more work than threads closes
// a keep-alive connection after its response, so that the client's next
// connection goes through the shared accept queue to whichever worker
// has room. Connections pile up on one worker when they arrive in a
// burst (the worker that wakes first takes most); this undoes that, at
// the cost of at most this many reconnections per second per worker.
//
// A worker holding fewer than shedHeldFull connections sheds
// proportionally less often: with one rate for all, two saturated
// workers gave clients back alike, and where they went was a random walk
// (8 keep-alive clients on 2 workers of 1 thread: the busiest worker
// served over 70% of the requests in 1 run in 10, after a second to
// settle); in proportion to what each holds, the busier gives back more
// (32 runs: at most 62%). With shedHeldFull or more the rate is as
// before, so many connections cost no more reconnections.
const (
	shedEvery    = 10 * time.Millisecond
	shedHeldFull = 8
)

// shouldShed reports whether the response being finished should close
// its connection to rebalance: more connections want a Python thread
// than there are, and none was shed in the last shedEvery (stretched
// when fewer than shedHeldFull connections are held).
func (l *gate) shouldShed(now time.Time) bool {
	if !l.shed || l.active.Load() <= l.limit {
		return false
	}
	last := l.lastShed.Load()
	held := int64(shedHeldFull)
	if l.conns != nil {
		held = min(max(int64(l.conns()), 1), shedHeldFull)
	}
	if now.UnixNano()-last < int64(shedEvery)*shedHeldFull/held {
		return false
	}
	return l.lastShed.CompareAndSwap(last, now.UnixNano())
}

func newGate(limit, acceptLoops int, shed bool) *gate {
	l := &gate{limit: int64(limit), shed: shed}
	for range acceptLoops {
		l.wake = append(l.wake, make(chan struct{}, 1))
	}
	return l
}

func (l *gate) add() { l.active.Add(1) }

func (l *gate) done() {
	if l.active.Add(-1) == l.limit-1 {
		for _, w := range l.wake {
			select {
			case w <- struct{}{}:
			default:
			}
		}
	}
}

// took records that a request took a Python thread at now (the time the
// caller already read, at or before the take: no clock reading of its
// own per request).
func (l *gate) took(now time.Time) { l.lastTake.Store(now.UnixNano()) }

// tookSince reports whether a request took a Python thread at or after
// t: one was given back since, so the threads are not all stuck.
func (l *gate) tookSince(t time.Time) bool { return l.lastTake.Load() >= t.UnixNano() }

// patience is how long connections must have waited in the listen queue
// before this worker, full, takes one (listener.accept): acceptGrace,
// times how many times over its threads it holds connections, so that of
// two full workers the one with fewer clients takes it first, as the gate
// favours the one with room. With one wait for all, the 8-client balance
// test (TestKeepAliveLoadIsShared) went over its 70% bound in 3 runs of
// 14; with this, in 1 of 36, as often as before the forced accept.
func (l *gate) patience() time.Duration {
	held := int64(0)
	if l.conns != nil {
		held = int64(l.conns())
	}
	return acceptGrace * time.Duration(max(1, held/l.limit))
}

// hasRoom reports whether a new connection may be accepted.
func (l *gate) hasRoom() bool { return l.active.Load() < l.limit }
