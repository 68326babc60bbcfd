package engine

import (
	"sync"
	"sync/atomic"
)

// outbox holds the response bytes a client has not taken yet, up to
// --response-buffer, so that the app can finish (and its Python thread
// serve another request) while a slow client reads. Most responses
// never touch it: the socket takes them whole on the first write.
//
// Owned by the connection goroutine.
type outbox struct {
	buf []byte // pending bytes are buf[off:]; nil when nothing is held
	// box is the pool's pointer that buf's storage came with, put back
	// with it: a fresh pointer would be an allocation per response held.
	box    *[]byte
	off    int
	limit  int           // --response-buffer
	budget *outboxBudget // the worker's; nil: none
}

// outboxBudget is what a worker's outboxes may hold in all: the
// capacity of their storage, at most --response-memory-budget. Clients
// that do not read could otherwise each hold a --response-buffer (and
// the growth of its storage): a hundred of them took a worker from 76
// MB to 686. Past the budget a response waits for its client as one
// past --response-buffer does (parked, without a Python thread). The
// bound is soft by a step: outboxes check and grow concurrently.
type outboxBudget struct {
	limit int64 // immutable
	held  atomic.Int64
}

// free is how much more storage the outboxes may take.
func (b *outboxBudget) free() int {
	return int(max(b.limit-b.held.Load(), 0))
}

// outboxPool recycles the storage of outboxes, up to maxPooledOutbox.
var outboxPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

const maxPooledOutbox = 256 << 10

func (o *outbox) pending() []byte { return o.buf[o.off:] }

func (o *outbox) len() int { return len(o.buf) - o.off }

// room is how many more bytes the outbox accepts.
func (o *outbox) room() int { return max(min(o.limit-o.len(), o.spare()), 0) }

// spare is how many more bytes the worker's budget lets the outbox
// hold: its storage's unused capacity and what the budget has left.
func (o *outbox) spare() int {
	if o.budget == nil {
		return int(^uint(0) >> 1)
	}
	return cap(o.buf) - len(o.buf) + o.budget.free()
}

// fits reports whether n more bytes may wait in the outbox: within
// --response-buffer for a response that goes on (the last step of a
// finished one is kept whole, so that its thread moves on) and within
// the worker's budget for any.
func (o *outbox) fits(n int, done bool) bool {
	if done {
		return n <= o.spare()
	}
	return n <= o.room()
}

// keep copies bufs after the pending bytes; the caller checks room.
func (o *outbox) keep(bufs [][]byte) {
	if size(bufs) == 0 {
		return
	}
	if o.buf == nil {
		o.box = outboxPool.Get().(*[]byte)
		o.buf = (*o.box)[:0]
		o.account(cap(o.buf))
	} else if o.off > 0 && o.off >= len(o.buf)/2 {
		o.buf = o.buf[:copy(o.buf, o.buf[o.off:])]
		o.off = 0
	}
	before := cap(o.buf)
	for _, b := range bufs {
		o.buf = append(o.buf, b...)
	}
	o.account(cap(o.buf) - before)
}

// account adds n bytes of storage to the worker's budget (n < 0 gives
// them back).
func (o *outbox) account(n int) {
	if o.budget != nil && n != 0 {
		o.budget.held.Add(int64(n))
	}
}

// consume drops the first n pending bytes, which were sent; the storage
// goes back to the pool once nothing is pending.
func (o *outbox) consume(n int) {
	o.off += n
	if o.off == len(o.buf) {
		o.reset()
	}
}

// reset forgets the pending bytes and releases the storage.
func (o *outbox) reset() {
	if o.box != nil {
		o.account(-cap(o.buf))
	}
	if o.box != nil && cap(o.buf) <= maxPooledOutbox {
		*o.box = o.buf[:0] // buf may have outgrown the storage the pool gave
		outboxPool.Put(o.box)
	}
	o.buf, o.box, o.off = nil, nil, 0
}

// size is the total length of bufs.
func size(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}
