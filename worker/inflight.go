package worker

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
	method string // guarded by mu: the request being served
	path   string
}

// begin marks the slot busy with a request; end marks it idle. Only the
// goroutine holding the slot calls them.
func (c *callState) begin(method, path []byte, now time.Time) {
	c.mu.Lock()
	c.method, c.path = string(method), string(path)
	c.mu.Unlock()
	c.since.Store(now.UnixNano())
	c.calls.Add(1)
}

func (c *callState) end() { c.since.Store(0) }

// oldestCall returns how long the oldest in-flight Python call has been
// running, and its request; zero when no call is in flight. Liveness is
// computed from this, not from a timer goroutine, because goroutines keep
// running while an app holds the GIL forever.
func (s *server) oldestCall(now time.Time) (age time.Duration, method, path string) {
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
	return now.Sub(time.Unix(0, since)), oldest.method, oldest.path
}
