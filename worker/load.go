package worker

import (
	"sync/atomic"
	"time"
)

// load counts a worker's connections that can make progress without
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
type load struct {
	active atomic.Int64
	limit  int64 // immutable: --threads
	// shed enables closing keep-alive connections to rebalance them;
	// immutable: on when there are sibling workers to take them.
	shed bool
	// wake has one channel (capacity 1) per accept loop; done signals
	// them when load drops below the limit. Immutable after newLoad.
	wake []chan struct{}
	// lastShed is when (unix ns) a keep-alive connection was last closed
	// to move it to a less busy worker.
	lastShed atomic.Int64
}

// shedEvery bounds how often a worker with more work than threads closes
// a keep-alive connection after its response, so that the client's next
// connection goes through the shared accept queue to whichever worker
// has room. Connections pile up on one worker when they arrive in a
// burst (the worker that wakes first takes most); this undoes that, at
// the cost of at most this many reconnections per second per worker.
const shedEvery = 10 * time.Millisecond

// shouldShed reports whether the response being finished should close
// its connection to rebalance: more connections want a Python thread
// than there are, and none was shed in the last shedEvery.
func (l *load) shouldShed(now time.Time) bool {
	if !l.shed || l.active.Load() <= l.limit {
		return false
	}
	last := l.lastShed.Load()
	if now.UnixNano()-last < int64(shedEvery) {
		return false
	}
	return l.lastShed.CompareAndSwap(last, now.UnixNano())
}

func newLoad(limit, acceptLoops int, shed bool) *load {
	l := &load{limit: int64(limit), shed: shed}
	for range acceptLoops {
		l.wake = append(l.wake, make(chan struct{}, 1))
	}
	return l
}

func (l *load) add() { l.active.Add(1) }

func (l *load) done() {
	if l.active.Add(-1) == l.limit-1 {
		for _, w := range l.wake {
			select {
			case w <- struct{}{}:
			default:
			}
		}
	}
}

// hasRoom reports whether a new connection may be accepted.
func (l *load) hasRoom() bool { return l.active.Load() < l.limit }
