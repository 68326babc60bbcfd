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
	// untimed: the call may take the connection over (takeover.go), so
	// neither --timeout nor --request-timeout times it. Cleared by end.
	untimed atomic.Bool

	mu     sync.Mutex
	method []byte // guarded by mu: the request being served; storage reused
	path   []byte
	caller Caller // guarded by mu: the request's Caller; nil before the first
}

// begin marks the slot busy with a new request run by caller; end marks
// it idle. Only the goroutine holding the slot calls them.
func (c *callState) begin(method, path []byte, caller Caller, now time.Time) {
	c.resume(method, path, caller, now)
	c.calls.Add(1)
}

// resume marks the slot busy with a request that began on a slot before
// and was parked while its client read (not counted again).
func (c *callState) resume(method, path []byte, caller Caller, now time.Time) {
	c.mu.Lock()
	c.method = append(c.method[:0], method...)
	c.path = append(c.path[:0], path...)
	c.caller = caller
	c.mu.Unlock()
	c.since.Store(now.UnixNano())
}

func (c *callState) end() {
	c.since.Store(0)
	c.untimed.Store(false)
}

// next marks the start of another call for the same request (the next
// step of a streamed response), so liveness measures each call into
// Python, not a long response made of quick ones.
func (c *callState) next(now time.Time) { c.since.Store(now.UnixNano()) }

// oldestCall returns the state of the slot whose call began first and
// when; nil when every slot is idle.
func (s *Server) oldestCall() (oldest *callState, since int64) {
	for _, sl := range s.allSlots {
		if t := sl.call.since.Load(); t != 0 && (since == 0 || t < since) && !sl.call.untimed.Load() {
			oldest, since = &sl.call, t
		}
	}
	return oldest, since
}

// RequestOf returns the request in flight on the slot whose Caller
// match accepts; ok is false when there is none. For a worker whose
// Callers share one runtime (an ASGI event loop), where the runtime
// tells which of them is running and the slot knows the request.
func (s *Server) RequestOf(match func(Caller) bool) (method, path string, ok bool) {
	for _, sl := range s.allSlots {
		c := &sl.call
		c.mu.Lock()
		if c.caller != nil && match(c.caller) {
			method, path = string(c.method), string(c.path)
			c.mu.Unlock()
			return method, path, true
		}
		c.mu.Unlock()
	}
	return "", "", false
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

// A Locator is a Caller that can tell where its call is: the log of a
// worker stuck past --timeout names the request's thread in the stack
// dump, and says when the call had not reached the app's code. Locate
// runs on another goroutine than the call's, while it runs.
type Locator interface {
	Locate() CallPlace
}

// CallPlace is where a call into the app is.
type CallPlace struct {
	// Stage: how far the call has gone into the app's runtime.
	Stage CallStage
	// Thread is the call's OS thread as the runtime's stack dump names
	// it (for Python, "Thread 0x..." of faulthandler); 0 when Stage is
	// StageOutside.
	Thread uint64
}

// CallStage is how far a call has gone into the app's runtime.
type CallStage int

const (
	// StageOutside: the request holds its slot, but no call into the
	// runtime is under way: it is still in the server's code, before
	// the app's first call or between two steps of its response.
	StageOutside CallStage = iota
	// StageWaiting: the call waits to enter the runtime (for Python,
	// for the GIL that another thread holds).
	StageWaiting
	// StageRunning: the call is in the runtime (for Python: holding the
	// GIL, in the app or in the server's code around it).
	StageRunning
)

// StuckCall is the oldest call in flight, as the log of a worker stuck
// past --timeout describes it.
type StuckCall struct {
	Age          time.Duration // since the request took its slot
	Method, Path string
	// Place is where the call is; the zero CallPlace (StageOutside)
	// when its Caller is no Locator.
	Place CallPlace
}

// OldestStuckCall returns the oldest call in flight: how long it has
// been running, its request and where it is; ok is false when no call is
// in flight. Liveness (the heartbeat) and the --timeout log are computed
// from this, not from a timer goroutine, because goroutines keep running
// while an app holds the GIL forever.
func (s *Server) OldestStuckCall(now time.Time) (call StuckCall, ok bool) {
	oldest, since := s.oldestCall()
	if oldest == nil {
		return StuckCall{}, false
	}
	oldest.mu.Lock()
	defer oldest.mu.Unlock()
	call = StuckCall{Age: now.Sub(time.Unix(0, since)), Method: string(oldest.method), Path: string(oldest.path)}
	if l, ok := oldest.caller.(Locator); ok {
		call.Place = l.Locate()
	}
	return call, true
}
