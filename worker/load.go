package worker

import "sync/atomic"

// load counts a worker's connections that can make progress without
// waiting on their peer: just accepted, reading a request that has
// arrived, waiting for or running in a Python thread, or writing to a
// client that keeps up. Connections idle between requests, slow
// uploaders and slow readers wait on their peer and do not count.
//
// The accept gate keeps load below the number of Python threads: a
// worker whose threads all have work (saturated, or stuck in an app
// call) leaves new connections in the shared listen queue, where an
// idle sibling takes them.
type load struct {
	active atomic.Int64
	limit  int64 // immutable: --threads
	// wake has one channel (capacity 1) per accept loop; done signals
	// them when load drops below the limit. Immutable after newLoad.
	wake []chan struct{}
}

func newLoad(limit, acceptLoops int) *load {
	l := &load{limit: int64(limit)}
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
