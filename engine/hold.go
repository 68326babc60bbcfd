package engine

import (
	"sync/atomic"
	"time"
)

// A response that comes in many small blocks (a generator's yields) is
// sent in fewer, larger writes: a block that leaves the response
// unfinished waits in the outbox until about holdBytes have gathered,
// and goes out with them in one sendmsg. Sent one by one, 64 blocks of
// 16 KiB cost the client 64 segments and as many wake-ups; gathered,
// they are 16 (docs/benchmarks.md, "Gathering small blocks").
//
// PEP 3333 lets a server hold a block back only if it keeps sending
// while the app produces the next one. So a held byte waits at most
// holdTime: the next block is sent at once if the oldest held byte is
// that old, and while the app runs (where the connection goroutine
// cannot act), a timer hands the held bytes to the socket.
const (
	// holdBytes is one loopback segment, and a full TSO/GSO burst on a
	// network card. Measured: 32 KiB writes cost the client as much as
	// 16 KiB ones; 128 KiB ones cost the server a wake-up of an idle
	// client per segment.
	holdBytes = 64 << 10
	holdTime  = time.Millisecond
)

// States of holder.state.
const (
	holdIdle     int32 = iota // the connection goroutine owns the outbox
	holdWaiting               // it is in the app, with bytes in the outbox
	holdFlushing              // the timer took the outbox to send it
)

// holder sends a connection's held bytes while the app runs. Its timer
// is the only other goroutine that touches the outbox and the socket,
// and only between the connection goroutine's beginWait and endWait,
// which bracket a call into the app.
type holder struct {
	c     *conn
	timer *time.Timer
	state atomic.Int32
	// armed: the timer is pending or its callback is running; whoever
	// sets it from false arms the timer, so it is armed once at a time.
	armed atomic.Bool
	// since is when the oldest byte in the outbox got there, as
	// monoNanos; 0 when the outbox is empty.
	since atomic.Int64
	done  chan struct{} // the timer's flush ended; err is its result
	err   error
	buf   [1][]byte
}

// start readies h, part of c, for c's next connection.
func (h *holder) start(c *conn) {
	if h.timer == nil {
		h.c = c
		h.done = make(chan struct{}, 1)
		h.timer = time.AfterFunc(time.Hour, h.fire)
		h.timer.Stop()
	}
	h.since.Store(0)
}

// monoEpoch makes monoNanos a monotonic reading that fits an int64.
var monoEpoch = time.Now()

func monoNanos(t time.Time) int64 { return int64(t.Sub(monoEpoch)) }

// mayHold reports whether a block of n bytes of an unfinished response
// may wait in the outbox for more, now: the outbox has room for it
// within holdBytes, and nothing in it has waited holdTime yet.
func (h *holder) mayHold(n int, now time.Time) bool {
	out := &h.c.out
	if out.len()+n > holdBytes || n > out.room() {
		return false
	}
	since := h.since.Load()
	return since == 0 || monoNanos(now)-since < int64(holdTime)
}

// beginWait is called before asking the app for more, at now: held
// bytes are sent by the timer if the app takes too long.
func (h *holder) beginWait(now time.Time) {
	if h.c.out.len() == 0 {
		h.since.Store(0)
		return
	}
	if h.since.Load() == 0 {
		h.since.Store(monoNanos(now))
	}
	h.state.Store(holdWaiting)
	if h.armed.CompareAndSwap(false, true) {
		h.timer.Reset(h.wait(now))
	}
}

// wait is how long from now until the oldest held byte has waited
// holdTime.
func (h *holder) wait(now time.Time) time.Duration {
	return time.Duration(h.since.Load() + int64(holdTime) - monoNanos(now))
}

// endWait is called when the app returned: it takes the outbox back,
// after the timer's flush if one began, and returns that flush's error.
func (h *holder) endWait() error {
	if h.state.Load() == holdIdle || h.state.CompareAndSwap(holdWaiting, holdIdle) {
		return nil
	}
	<-h.done // a flush never waits on the client: this is one sendmsg
	h.state.Store(holdIdle)
	err := h.err
	h.err = nil
	return err
}

// stop disarms the timer at the end of a response, so an idle
// connection costs no wake-up.
func (h *holder) stop() {
	if h.armed.Load() && h.timer.Stop() {
		h.armed.Store(false)
	}
	h.since.Store(0)
}

// fire is the timer's callback.
func (h *holder) fire() {
	for {
		if h.state.Load() == holdWaiting {
			now := time.Now()
			if d := h.wait(now); d > 0 {
				h.timer.Reset(d) // armed stays set
				return
			}
			if h.state.CompareAndSwap(holdWaiting, holdFlushing) {
				h.flush()
				h.done <- struct{}{}
			}
		}
		h.armed.Store(false)
		// A wait that began after the check above found the timer
		// still armed and left it to this callback.
		if h.state.Load() != holdWaiting || !h.armed.CompareAndSwap(false, true) {
			return
		}
	}
}

// flush hands the socket what it takes of the outbox without waiting
// for the client: one whose socket is full is slow, and the rest waits
// as it would have without holding.
func (h *holder) flush() {
	c := h.c
	h.buf[0] = c.out.pending()
	n, err := c.nc.tryWritev(h.buf[:])
	h.buf[0] = nil
	h.err = err
	if err == nil {
		c.out.consume(n)
		if c.out.len() == 0 {
			h.since.Store(0)
		}
	}
}
