package engine

import "sync"

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
	box   *[]byte
	off   int
	limit int // immutable: --response-buffer
}

// outboxPool recycles the storage of outboxes, up to maxPooledOutbox.
var outboxPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

const maxPooledOutbox = 256 << 10

func (o *outbox) pending() []byte { return o.buf[o.off:] }

func (o *outbox) len() int { return len(o.buf) - o.off }

// room is how many more bytes the outbox accepts.
func (o *outbox) room() int { return max(o.limit-o.len(), 0) }

// keep copies bufs after the pending bytes; the caller checks room.
func (o *outbox) keep(bufs [][]byte) {
	if size(bufs) == 0 {
		return
	}
	if o.buf == nil {
		o.box = outboxPool.Get().(*[]byte)
		o.buf = (*o.box)[:0]
	} else if o.off > 0 && o.off >= len(o.buf)/2 {
		o.buf = o.buf[:copy(o.buf, o.buf[o.off:])]
		o.off = 0
	}
	for _, b := range bufs {
		o.buf = append(o.buf, b...)
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
