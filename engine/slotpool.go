package engine

import "sync"

// slotPool hands out the app's slots: the one given back last goes out
// first, and requests that find none wait their turn in order.
//
// Last in, first out keeps the slots in use as few as the load needs:
// an ASGI worker has up to 1,000, each Caller keeping buffers sized by
// the responses it served, and handed out in turn every one of them
// would hold its buffers (64 MiB of gathering buffers alone in a
// stream of 1 MiB responses) and be cold in the CPU's caches when its
// turn came. For WSGI it gives a request the Python thread that ran
// last, whose stack and state are warm.
type slotPool struct {
	mu      sync.Mutex
	free    []*slot      // guarded by mu: a stack, the top last
	waiters []chan *slot // guarded by mu: requests waiting, first come first
	// onFree, guarded by mu, is closed when a slot next becomes free
	// (freed); nil when nobody asked.
	onFree chan struct{}
}

func newSlotPool(n int) *slotPool {
	return &slotPool{free: make([]*slot, 0, n)}
}

// take returns a free slot, waiting for one when there is none; waited
// says whether it had to.
func (p *slotPool) take() (sl *slot, waited bool) {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		sl = p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return sl, false
	}
	ch := make(chan *slot, 1)
	p.waiters = append(p.waiters, ch)
	p.mu.Unlock()
	return <-ch, true
}

// give returns sl: to the request that has waited longest, if any.
func (p *slotPool) give(sl *slot) {
	p.mu.Lock()
	if len(p.waiters) > 0 {
		ch := p.waiters[0]
		p.waiters[0] = nil
		p.waiters = p.waiters[1:]
		p.mu.Unlock()
		ch <- sl
		return
	}
	p.free = append(p.free, sl)
	if p.onFree != nil {
		close(p.onFree)
		p.onFree = nil
	}
	p.mu.Unlock()
}

// freed returns a channel closed when a slot is next given back with
// no request waiting for it, or nil when a request need not wait for
// that: a slot is free now, or requests already wait in line for one
// (the worker is busy rather than held up, and a newcomer joins the
// line).
func (p *slotPool) freed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) > 0 || len(p.waiters) > 0 {
		return nil
	}
	if p.onFree == nil {
		p.onFree = make(chan struct{})
	}
	return p.onFree
}
