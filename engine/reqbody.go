package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"golang.org/x/sys/unix"
)

// errBodyStore means an upload could not be written to its temporary
// file: a server fault (a full disk), not the client's.
var errBodyStore = errors.New("worker: cannot store the request body")

// A request body reaches the app in one of three ways, chosen per
// request by what fits the worker's budgets (docs/worker.md, "The
// request side"):
//
//   - read ahead into memory: up to --max-buffered-body, while the
//     worker holds at most --body-memory-budget of such bodies;
//   - read ahead into an anonymous temporary file, while the worker has
//     written at most --body-spill-budget to such files;
//   - streamed (bodystream.go): wsgi.input reads it from the connection
//     as it arrives, when it fits neither.
//
// A body read ahead costs no Python thread however slowly it comes; a
// streamed one holds the thread of the app that reads it. The budgets are
// reserved before a byte is stored and never exceeded: a body of known
// length reserves all of it at once, a chunked one as it grows.

// budget is a per-worker bound on bytes stored for request bodies,
// shared by the connection goroutines.
type budget struct {
	used  atomic.Int64
	limit int64 // immutable; 0 = nothing may be stored
}

// take reserves n bytes, or reports false (reserving nothing) when they
// do not fit.
func (b *budget) take(n int64) bool {
	for {
		used := b.used.Load()
		if n > b.limit-used {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// takeUpTo reserves as much of n bytes as is left, and returns it.
func (b *budget) takeUpTo(n int64) int64 {
	for {
		used := b.used.Load()
		k := min(n, b.limit-used)
		if k <= 0 {
			return 0
		}
		if b.used.CompareAndSwap(used, used+k) {
			return k
		}
	}
}

func (b *budget) give(n int64) { b.used.Add(-n) }

// bodyBudgets are a worker's two budgets: memory (--body-memory-budget)
// and temporary files (--body-spill-budget).
type bodyBudgets struct{ mem, disk budget }

func newBodyBudgets(cfg *config.Config) *bodyBudgets {
	b := &bodyBudgets{}
	b.mem.limit, b.disk.limit = cfg.BodyMemoryBudget, cfg.BodySpillBudget
	return b
}

// spillStep is how much of the disk budget a chunked body, whose length
// is unknown, reserves at a time.
const spillStep = 1 << 20

// requestBody is the current request's body. Owned by the connection
// goroutine and reused for each request; stream is also read by the
// request timeout (reqtimeout.go).
type requestBody struct {
	mem  *bodyBuf // read ahead in memory, or the memory prefix of a stream; nil when none
	file *os.File // read ahead to a file (from offset 0), or a stream's spilled prefix
	// size is the body's length: all of it when read ahead, the announced
	// length of a stream (-1 for a chunked one).
	size int64
	// memHeld and diskHeld are the budget reserved, given back by release.
	memHeld, diskHeld int64
	budgets           *bodyBudgets // the worker's; set by readAhead
	// stream, when non-nil, delivers the body from the connection while
	// the app runs (bodystream.go).
	stream atomic.Pointer[bodyStream]
}

// appBody is the body as the app reads it (for WSGI, wsgi.input).
func (b *requestBody) appBody() Body {
	if s := b.stream.Load(); s != nil {
		return Body{File: s.pyEnd}
	}
	if b.file != nil {
		return Body{File: b.file}
	}
	if b.mem == nil {
		return Body{}
	}
	return Body{Data: b.mem.data}
}

// received is how many body bytes came from the client so far: all of a
// body read ahead; of a streamed one, what the feeder has read.
func (b *requestBody) received() int64 {
	if s := b.stream.Load(); s != nil {
		return s.received.Load()
	}
	return max(b.size, 0)
}

// unfinished reports whether part of a streamed body is still to come
// from the client: the connection then closes after the response, as
// that part is not read (bodyStream.stop).
func (b *requestBody) unfinished() bool {
	s := b.stream.Load()
	return s != nil && !s.whole.Load()
}

// release stops a stream, returns the storage and the budget, and
// forgets the body.
func (b *requestBody) release() {
	if s := b.stream.Swap(nil); s != nil {
		s.stop()
	}
	putBody(b.mem)
	if b.file != nil {
		b.file.Close() // unlinked already: the space is freed
	}
	if b.budgets != nil {
		b.budgets.mem.give(b.memHeld)
		b.budgets.disk.give(b.diskHeld)
	}
	b.mem, b.file, b.size, b.memHeld, b.diskHeld, b.budgets = nil, nil, 0, 0, 0, nil
}

// readBody reads the current request's body ahead of the app, or starts
// streaming it. Expect: 100-continue is answered first (RFC 9110
// §10.1.1). Each read must make progress within --body-timeout.
func (c *conn) readBody() error {
	if c.req.ContentLength == 0 && !c.req.Chunked {
		return nil
	}
	if c.req.ExpectContinue {
		if err := c.nc.writeAll([][]byte{continue100}, c.srv.writeTimeout); err != nil {
			return err
		}
	}
	length := c.req.ContentLength
	if c.req.Chunked {
		length = -1
	}
	return c.readAhead(c.req.Body, length)
}

var continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// streamedOver: with Options.StreamBodies, a body of known length up to
// this is still read ahead when it has all arrived (it is in the first
// packets, and a stream costs a socket pair and a goroutine); one still
// on its way streams, so that the app runs at once, as under Uvicorn.
const streamedOver = 64 << 10

// bodyArrived reports whether the first length bytes of the request
// body have arrived: in the read buffer, or waiting in the socket (for
// TLS its records, a little more than their text).
func (c *conn) bodyArrived(length int64) bool {
	have := int64(c.br.Buffered())
	return have >= length || have+int64(c.nc.pending()) >= length
}

// readAhead reads a body of length bytes (-1: unknown, ends at src's
// io.EOF) from src into memory or a temporary file, as the budgets
// allow, or starts streaming what does not fit.
func (c *conn) readAhead(src io.Reader, length int64) error {
	b := &c.body
	b.budgets = c.srv.bodies
	if c.srv.streamBodies && (length < 0 || length > streamedOver || !c.bodyArrived(length)) {
		return c.startStream(src, length)
	}
	if length < 0 {
		return c.readUnknown(src)
	}
	if length <= c.srv.maxBufferedBody {
		// The extra byte is room for the read that reports the end. The
		// budget counts the whole buffer, which may be a larger pooled
		// one, and is asked before the buffer grows to the body's size:
		// a body it refuses allocates nothing (a burst of uploads over
		// the budget once allocated a buffer each before being refused).
		want := length + 1
		b.mem = pooledBody(want)
		if held := max(int64(cap(b.mem.data)), want); b.budgets.mem.take(held) {
			b.memHeld = held
			b.mem.grow(want)
			return c.readToMemory(src)
		}
		putBody(b.mem) // not held outside the budget while a file or the stream is used
		b.mem = nil
	}
	if b.budgets.disk.take(length) {
		b.diskHeld = length
		return c.spillBody(src, length)
	}
	return c.startStream(src, length)
}

// readToMemory reads a body into b.mem, sized for it (getBodyFor) and
// counted in the memory budget.
func (c *conn) readToMemory(src io.Reader) error {
	b := &c.body
	for {
		data := b.mem.data
		c.bodyDeadline()
		n, err := src.Read(data[len(data):cap(data)])
		b.mem.data = data[:len(data)+n]
		b.size += int64(n)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readUnknown reads a body of unknown length (chunked): into memory while
// it is within --max-buffered-body and the memory budget grants each
// growth of the buffer, then into a temporary file; a body that outgrows
// both streams, the part already read first.
func (c *conn) readUnknown(src io.Reader) error {
	b := &c.body
	limit := c.srv.maxBufferedBody
	b.mem = getBodyFor(0)
	if held := int64(cap(b.mem.data)); held <= limit+1 && b.budgets.mem.take(held) {
		b.memHeld = held
	} else {
		return c.spillBody(src, -1)
	}
	for {
		data := b.mem.data
		if len(data) == cap(data) {
			grown := min(2*int64(cap(data)), limit+1)
			if grown <= int64(cap(data)) || !b.budgets.mem.take(grown-b.memHeld) {
				return c.spillBody(src, -1)
			}
			b.memHeld = grown
			data = append(make([]byte, 0, grown), data...)
		}
		c.bodyDeadline()
		n, err := src.Read(data[len(data):cap(data)])
		b.mem.data = data[:len(data)+n]
		b.size += int64(n)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// spillBody moves what is buffered of the body to a temporary file and
// reads the rest into it, through the buffer's storage. It writes only
// bytes reserved in the disk budget: a known length (from readAhead) is
// reserved whole by the caller, an unknown one (-1) spillStep at a time
// here; when the budget refuses a step, the body streams, what was read
// of it first.
func (c *conn) spillBody(src io.Reader, length int64) error {
	b := &c.body
	if b.mem == nil {
		b.mem = getBodyFor(0) // scratch
	}
	if length < 0 { // what is in memory, and a first step
		k := b.budgets.disk.takeUpTo(b.size + spillStep)
		if k <= b.size {
			b.budgets.disk.give(k)
			return c.startStream(src, length)
		}
		b.diskHeld = k
	}
	f, err := tempFile()
	if err != nil {
		// No writable temporary directory (a read-only root file system,
		// an unwritable TMPDIR): the body streams to the app instead, as
		// past the disk budget, and Gunicorn's do; it was a 500 for every
		// upload over --max-buffered-body.
		b.budgets.disk.give(b.diskHeld)
		b.diskHeld = 0
		if !c.srv.spillUnwritable.Swap(true) {
			c.srv.log.Warn().Err(err).Str("dir", os.TempDir()).Msg("cannot create a temporary file for a request " +
				"body; bodies over --max-buffered-body stream to the app instead (set TMPDIR to a writable directory)")
		}
		return c.startStream(src, length)
	}
	b.file = f
	if w, err := f.Write(b.mem.data); err != nil {
		return c.spillFailed(err, b.mem.data[w:], src, length)
	}
	scratch := b.mem.data[:cap(b.mem.data)]
	if len(scratch) < 64<<10 {
		scratch = make([]byte, 64<<10)
	}
	b.mem.data = scratch[:0]
	b.budgets.mem.give(b.memHeld) // the scratch holds no body between reads
	b.memHeld = 0
	for {
		room := b.diskHeld - b.size
		if room == 0 {
			// At the end of the reserved bytes: the end of the body, or
			// more of the budget for an unknown length.
			c.bodyDeadline()
			if _, err := src.Read(nil); err == io.EOF {
				break
			} else if err != nil {
				return err
			}
			if length >= 0 || !c.reserveSpill() {
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					return fmt.Errorf("%w: %w", errBodyStore, err)
				}
				return c.startStream(src, length)
			}
			room = b.diskHeld - b.size
		}
		c.bodyDeadline()
		n, err := src.Read(scratch[:min(int64(len(scratch)), room)])
		if n > 0 {
			b.size += int64(n)
			if w, werr := f.Write(scratch[:n]); werr != nil {
				return c.spillFailed(werr, scratch[w:n], src, length)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("%w: %w", errBodyStore, err)
	}
	return nil
}

// reserveSpill adds up to spillStep bytes of the disk budget to the
// body's share, for a body of unknown length; false when none is left.
func (c *conn) reserveSpill() bool {
	b := &c.body
	k := b.budgets.disk.takeUpTo(spillStep)
	b.diskHeld += k
	return k > 0
}

// bodyDeadline bounds the wait for the next body bytes by
// --body-timeout; with none, a header or keep-alive deadline still in
// force must not cut an upload short either.
func (c *conn) bodyDeadline() {
	var deadline time.Time
	if t := c.srv.bodyTimeout; t > 0 {
		deadline = time.Now().Add(t)
	}
	c.nc.setReadDeadlineNear(deadline, c.srv.bodyTimeout/deadlineSlack)
}

// streamDeadline is bodyDeadline for a body streaming to the app, whose
// Python thread waits while the client sends: with --body-min-rate the
// client may also keep the feeder waiting, in all, no longer than a
// grace (--first-byte-timeout, as for a head) plus a second per rate
// bytes it sent, so a trickle cannot hold the thread for good. waited
// and sent are the stream's so far; the time the app takes between its
// reads is not the client's. It reports whether the rate's deadline is
// the one armed. Not for ASGI (streamBodies): its app waits for the body
// without a thread, as under Uvicorn, which has no such minimum, and a
// request body may be a slow stream of events by design.
func (c *conn) streamDeadline(waited time.Duration, sent int64) bool {
	rate := c.srv.cfg.BodyMinRate
	if rate <= 0 || c.srv.streamBodies {
		c.bodyDeadline()
		return false
	}
	now := time.Now()
	earned := min(float64(sent)/float64(rate), maxRateCredit.Seconds())
	deadline := now.Add(c.srv.bodyRateGrace() + time.Duration(earned*float64(time.Second)) - waited)
	byRate := true
	if t := c.srv.bodyTimeout; t > 0 && now.Add(t).Before(deadline) {
		deadline, byRate = now.Add(t), false
	}
	c.nc.SetReadDeadline(deadline)
	return byRate
}

// maxRateCredit caps the time a streamed body's bytes earn, far beyond
// any real upload, so the sum cannot overflow.
const maxRateCredit = 1_000_000 * time.Hour

// bodyRateGrace is the waiting a streamed body's client gets before
// --body-min-rate counts: --first-byte-timeout, or 5 s without one.
func (s *Server) bodyRateGrace() time.Duration {
	if s.firstByteTimeout > 0 {
		return s.firstByteTimeout
	}
	return 5 * time.Second
}

// tempFile returns an anonymous file in the temporary directory
// ($TMPDIR): O_TMPFILE where the file system has it, else a named file
// removed at once. Either way, nothing is left behind by a crash.
func tempFile() (*os.File, error) {
	dir := os.TempDir()
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return os.NewFile(uintptr(fd), dir+"/(upload)"), nil
	}
	f, err := os.CreateTemp(dir, "gowsgi-upload-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}

// bodyBuf is a pooled request body buffer.
type bodyBuf struct{ data []byte }

// Body buffers are pooled in two sizes, so that a small body does not
// take (and count in the memory budget) a big buffer: up to smallBody,
// and up to maxPooledBody, a default --max-buffered-body upload and its
// end-of-body byte. Bigger ones are let go rather than pinned.
const (
	smallBody     = 64 << 10
	maxPooledBody = 1<<20 + 1
)

var (
	smallBodyPool = sync.Pool{New: func() any { return &bodyBuf{data: make([]byte, 0, 4096)} }}
	bigBodyPool   = sync.Pool{New: func() any { return &bodyBuf{} }}
)

// getBodyFor returns an empty buffer with room for n bytes.
func getBodyFor(n int64) *bodyBuf {
	b := pooledBody(n)
	b.grow(n)
	return b
}

// pooledBody returns an empty buffer from the pool for bodies of n
// bytes, which may have less room than that (grow gives it).
func pooledBody(n int64) *bodyBuf {
	if n > smallBody {
		return bigBodyPool.Get().(*bodyBuf)
	}
	return smallBodyPool.Get().(*bodyBuf)
}

// grow gives an empty buffer room for n bytes.
func (b *bodyBuf) grow(n int64) {
	if int64(cap(b.data)) < n {
		// Sized once: growing the buffer by append from 4 KiB copied a
		// 1 MiB upload about eight times over.
		b.data = make([]byte, 0, n)
	}
}

func putBody(b *bodyBuf) {
	if b == nil {
		return
	}
	b.data = b.data[:0]
	switch c := cap(b.data); {
	case c <= smallBody:
		smallBodyPool.Put(b)
	case c <= maxPooledBody:
		bigBodyPool.Put(b)
	}
}
