package engine

import (
	"sync"
	"sync/atomic"
	"time"
)

// callState is what a slot is doing, read by other goroutines (liveness
// reports, the timeout log) while the slot's owner writes it.
type callState struct {
	since atomic.Int64  // unix nanoseconds the current Python call began; 0 when idle
	calls atomic.Uint64 // Python calls begun on this slot, for --max-requests

	mu     sync.Mutex
	method []byte // guarded by mu: the request being served; storage reused
	path   []byte
}

// begin marks the slot busy with a new request; end marks it idle. Only
// the goroutine holding the slot calls them.
func (c *callState) begin(method, path []byte, now time.Time) {
	c.resume(method, path, now)
	c.calls.Add(1)
}

// resume marks the slot busy with a request that began on a slot before
// and was parked while its client read (not counted again).
func (c *callState) resume(method, path []byte, now time.Time) {
	c.mu.Lock()
	c.method = append(c.method[:0], method...)
	c.path = append(c.path[:0], path...)
	c.mu.Unlock()
	c.since.Store(now.UnixNano())
}

func (c *callState) end() { c.since.Store(0) }

// next marks the start of another call for the same request (the next
// step of a streamed response), so liveness measures each call into
// Python, not a long response made of quick ones.
func (c *callState) next(now time.Time) { c.since.Store(now.UnixNano()) }

// OldestCall returns how long the oldest in-flight Python call has been
// running, and its request; zero when no call is in flight. Liveness is
// computed from this, not from a timer goroutine, because goroutines keep
// running while an app holds the GIL forever.
func (s *Server) OldestCall(now time.Time) (age time.Duration, method, path string) {
	var oldest *callState
	var since int64
	for _, sl := range s.allSlots {
		if t := sl.call.since.Load(); t != 0 && (since == 0 || t < since) {
			oldest, since = &sl.call, t
		}
	}
	if oldest == nil {
		return 0, "", ""
	}
	oldest.mu.Lock()
	defer oldest.mu.Unlock()
	return now.Sub(time.Unix(0, since)), string(oldest.method), string(oldest.path)
}

// CallsBegun is how many calls into the app this server has begun, for
// --max-requests.
func (s *Server) CallsBegun() uint64 {
	var n uint64
	for _, sl := range s.allSlots {
		n += sl.call.calls.Load()
	}
	return n
}
