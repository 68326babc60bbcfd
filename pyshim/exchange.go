package pyshim

/*
#include <stdlib.h>
#include "pyshim.h"
*/
import "C"

import (
	"encoding/binary"
	"iter"
	"os"
	"runtime"
	"runtime/cgo"
	"unsafe"
)

// MinBuffer is the smallest scratch buffer an Exchange accepts: it must
// hold the response head and leave room below the big-chunk threshold.
const MinBuffer = 64 << 10

// Exchange runs WSGI requests through the app, one at a time. The
// worker keeps one per Python slot and reuses it; it is not safe for
// concurrent use. Its buffer holds the response head and small body
// chunks copied out of Python, so the GIL is never held while Go
// writes them.
type Exchange struct {
	out []byte      // scratch buffer, written by C during a call
	res C.gw_result // written by C; res.exch non-nil while a response is open
	// slot is C memory holding this Exchange's wsgi.errors stream; nil
	// after Close.
	slot *C.gw_slot
	// handle names this Exchange to gowsgiErrorsWrite; deleted by Close.
	handle cgo.Handle
	// pin keeps the request body in place while C reads it, from Call
	// until the exchange is done.
	pin runtime.Pinner
	// errors receives what the app writes to wsgi.errors; nil sends it
	// to Options.Errors. Set by SetErrors before the first Call.
	errors func(text string)
	// writeHook receives the app's write() blocks while it runs; nil
	// keeps them for the steps. Set by SetWriteHook between calls.
	writeHook func(Step) bool
	// sockFD is the client connection the next Call offers the app
	// (OfferSocket); -1 for none.
	sockFD int
	// where is written by C during Call, Next and Abort and read by
	// Where from any goroutine, with atomics on both sides.
	where C.gw_where
}

// NewExchange returns an Exchange with a scratch buffer of bufSize
// bytes (at least MinBuffer). Close releases it.
func NewExchange(bufSize int) *Exchange {
	x := &Exchange{out: make([]byte, max(bufSize, MinBuffer)), sockFD: -1}
	x.handle = cgo.NewHandle(x)
	x.slot = C.gw_slot_new(C.uintptr_t(x.handle))
	return x
}

// SetErrors makes the lines the app writes to this Exchange's
// wsgi.errors go to sink instead of Options.Errors, so they can carry
// the context of the request in flight. Call it before the first Call.
// sink runs without the GIL, on the thread that wrote, which may be a
// thread the app started.
func (x *Exchange) SetErrors(sink func(text string)) { x.errors = sink }

// SetWriteHook makes every write() the app makes while it runs (until
// it returns its iterable) go to hook at once, as PEP 3333 wants of
// write(): sent, or buffered for sending, before write() returns,
// rather than held until the app returns. The first Step hook gets
// has the head; Call's own steps then never do. hook returns false when
// the client is gone, which write() raises as ConnectionError in the
// app.
//
// hook runs on the goroutine that called Call, inside it, without the
// GIL; it must not call Call, Next or Abort. The Step's slices are valid
// until hook returns. Writes from threads the app started are kept for
// the steps, as without a hook. nil removes the hook.
func (x *Exchange) SetWriteHook(hook func(Step) bool) { x.writeHook = hook }

// OfferSocket makes the next Call offer the client connection fd to the
// app, as Gunicorn does, in environ["gunicorn.socket"]: a blocking
// socket.socket on a duplicate of fd, which the app may use to speak an
// upgraded protocol itself (a WebSocket). If it does, the Call's Step is
// Taken. The app may leave fd blocking: the caller makes it
// non-blocking again if it needs it so.
func (x *Exchange) OfferSocket(fd int) { x.sockFD = fd }

// Close releases the Exchange's C and Python resources; the app's
// wsgi.errors writes go to Options.Errors from then on. No response may
// be open. Idempotent.
func (x *Exchange) Close() {
	if x.slot == nil {
		return
	}
	C.gw_slot_free(x.slot)
	x.slot = nil
	x.handle.Delete()
}

// Step is what one call into Python produced. Its slices alias the
// Exchange's buffer or a Python bytes object: valid until the next
// Call, Next or Abort on the same Exchange.
type Step struct {
	// HasHead: Status and Headers are set (the first step with body
	// bytes or the last step, whichever comes first).
	HasHead bool
	// Interim (with HasHead, through the write hook only): the head is
	// an informational one (wsgi.early_hints' 103) to send before the
	// response's; the step has no body.
	Interim  bool
	Status   []byte // latin-1, e.g. "200 OK"; not yet validated
	headers  []byte
	nheaders int
	Body     []byte // body bytes copied out of small chunks
	Big      []byte // then a big chunk, written straight from Python's memory
	// File, when File.Len > 0, comes after Body: the part of a regular
	// file that a wsgi.file_wrapper result wraps, for the caller to send
	// itself (sendfile). It is the last body part: the step that follows
	// closes the result.
	File FileRegion
	// Done: the result is exhausted and closed; no Next or Abort follows.
	Done bool
	// Failed: the app raised or produced something that is not WSGI;
	// Traceback says what. When !HasHead nothing was produced.
	Failed    bool
	Traceback string // may also be set on success, if close() raised
	// Taken (with Done): the app used the socket it was offered
	// (OfferSocket) and spoke its own protocol on it; nothing of the
	// step is to be sent. Traceback is what the app ended with, if it
	// raised anything but StopIteration (Gunicorn's "close and write
	// nothing").
	Taken bool
}

// FileRegion is part of an open regular file. Fd belongs to the app's
// file object and stays open until the next Next or Abort; read it with
// positional reads (pread, sendfile with an offset) only.
type FileRegion struct {
	Fd     int
	Offset int64
	Len    int64
}

// Headers yields the response headers in order, as latin-1 bytes.
func (s *Step) Headers() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		b := s.headers
		for range s.nheaders {
			n := binary.NativeEndian.Uint32(b)
			name := b[4 : 4+n]
			b = b[4+n:]
			m := binary.NativeEndian.Uint32(b)
			value := b[4 : 4+m]
			b = b[4+m:]
			if !yield(name, value) {
				return
			}
		}
	}
}

// AppendHeaders appends the response headers to dst as (name, value)
// pairs of latin-1 bytes and returns it: Headers without a closure, for
// the per-request path, where a reused dst makes it allocation-free.
func (s *Step) AppendHeaders(dst [][2][]byte) [][2][]byte {
	b := s.headers
	for range s.nheaders {
		n := binary.NativeEndian.Uint32(b)
		name := b[4 : 4+n]
		b = b[4+n:]
		m := binary.NativeEndian.Uint32(b)
		dst = append(dst, [2][]byte{name, b[4 : 4+m]})
		b = b[4+m:]
	}
	return dst
}

// NumHeaders is the number of headers Headers yields.
func (s *Step) NumHeaders() int { return s.nheaders }

func bytesPtr(b []byte) *C.char {
	if len(b) == 0 {
		return nil
	}
	return (*C.char)(unsafe.Pointer(unsafe.SliceData(b)))
}

// Body is a request body the server has read completely: in memory, or
// spilled to a file (a big upload).
type Body struct {
	Data []byte
	// File, when non-nil, holds the whole body from offset 0 and Data is
	// ignored; wsgi.input reads a duplicate of its descriptor, so the
	// caller may close File once the exchange is done.
	File *os.File
}

// Call runs the app for one request: env is the environ as encoded by
// package wsgi. Any response still open on x must have been finished
// first. wsgi.input reads body.Data in place: the caller must not modify
// it until the exchange is done (a step with Done, or Abort).
func (x *Exchange) Call(env []byte, body Body) Step {
	fd := C.int(-1)
	data := body.Data
	if body.File != nil {
		fd = C.int(body.File.Fd())
		data = nil
	}
	if len(data) > 0 {
		x.pin.Pin(unsafe.SliceData(data))
	}
	hook := C.int(0)
	if x.writeHook != nil {
		hook = 1
	}
	sock := C.int(x.sockFD)
	x.sockFD = -1
	C.gw_call(x.slot, &x.where, bytesPtr(env), C.size_t(len(env)), bytesPtr(data), C.size_t(len(data)), fd, hook,
		sock, (*C.char)(unsafe.Pointer(&x.out[0])), C.size_t(len(x.out)), &x.res)
	runtime.KeepAlive(body.File)
	return x.step()
}

// Open reports whether the last step left the response open: Next or
// Abort must follow.
func (x *Exchange) Open() bool { return x.res.exch != nil }

// Next continues an open response after the previous step was written.
func (x *Exchange) Next() Step {
	C.gw_next(&x.where, x.res.exch, (*C.char)(unsafe.Pointer(&x.out[0])), C.size_t(len(x.out)), &x.res)
	return x.step()
}

// Abort ends an open response early (the client went away, or the
// head was invalid); the iterable's close() is still called once. It
// returns the traceback if close() raised. A no-op when nothing is open.
// If the GIL cannot be taken on this thread (no memory for a thread
// state) the response stays open, with the body still pinned, and the
// text says so.
func (x *Exchange) Abort() (traceback string) {
	if x.res.exch == nil {
		return ""
	}
	C.gw_abort(&x.where, x.res.exch, &x.res)
	if x.res.exch == nil {
		x.pin.Unpin()
	}
	return x.takeTraceback()
}

func (x *Exchange) takeTraceback() string {
	if x.res.err == nil {
		return ""
	}
	s := C.GoStringN(x.res.err, C.int(x.res.err_len))
	C.free(unsafe.Pointer(x.res.err))
	x.res.err = nil
	return s
}

// gowsgiWriteStep hands one write() block of a running Call to its
// Exchange's hook (see SetWriteHook). It runs without the GIL on the
// goroutine inside Call.
//
//export gowsgiWriteStep
func gowsgiWriteStep(ctx C.uintptr_t) C.int {
	x := cgo.Handle(ctx).Value().(*Exchange)
	if x.writeHook(x.decode()) {
		return 1
	}
	return 0
}

func (x *Exchange) step() Step {
	s := x.decode()
	if x.res.exch == nil {
		x.pin.Unpin() // C detached wsgi.input when the exchange ended
	}
	return s
}

// decode reads the Step the last C call described in x.res and x.out.
func (x *Exchange) decode() Step {
	r := &x.res
	s := Step{
		HasHead: r.flags&C.GW_HEAD != 0,
		Interim: r.flags&C.GW_INTERIM != 0,
		Done:    r.flags&C.GW_DONE != 0,
		Failed:  r.flags&C.GW_ERROR != 0,
		Taken:   r.flags&C.GW_TAKEN != 0,
	}
	if s.HasHead {
		s.Status = x.out[:r.status_len]
		s.headers = x.out[r.status_len:r.head_len]
		s.nheaders = int(r.nheaders)
	}
	s.Body = x.out[r.body_off : r.body_off+r.body_len]
	if r.flags&C.GW_BIG != 0 {
		s.Big = unsafe.Slice((*byte)(unsafe.Pointer(r.big)), int(r.big_len))
	}
	if r.flags&C.GW_FILE != 0 {
		s.File = FileRegion{Fd: int(r.file_fd), Offset: int64(r.file_off), Len: int64(r.file_len)}
	}
	s.Traceback = x.takeTraceback()
	return s
}
