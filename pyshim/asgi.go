package pyshim

/*
#include <stdlib.h>
#include "asgi.h"
*/
import "C"

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// The ASGI runtime: one asyncio event loop per worker, on one OS thread
// of its own (asgi.py, asgi.c). Go owns the sockets; the loop only runs
// the app. Go posts events (a new request, body bytes, a disconnect)
// into a C queue without the GIL and wakes the loop through an eventfd
// registered with loop.add_reader: no polling, and an idle loop sleeps in
// epoll without the GIL. What the app sends is queued in C on the loop
// thread, which never calls into Go; a second eventfd, written by the
// first event Go was not yet told of, wakes a goroutine of the Loop
// (dispatch, asgiout.go), which takes the whole batch and hands each
// event to its Conn. When more than the Conn's budget is sent and not
// yet taken, the app's send() awaits until the connection's goroutine
// has taken it (backpressure without a blocked loop).

// asgiSources make up the module _gowsgi_asgi, run in this order in
// its namespace: asgi.py, then the WebSocket part, the lifespan part and
// the entry points C calls, kept in files of their own for size. Each is compiled under
// its name, which tracebacks and stack dumps show; linecache holds
// their lines.
var asgiSources = [...]struct{ name, src string }{
	{"<gowsgi>/asgi.py", asgiMain},
	{"<gowsgi>/asgi_ws.py", asgiWebSocket},
	{"<gowsgi>/asgi_lifespan.py", asgiLifespan},
	{"<gowsgi>/asgi_entry.py", asgiEntry},
}

//go:embed asgi.py
var asgiMain string

//go:embed asgi_ws.py
var asgiWebSocket string

//go:embed asgi_lifespan.py
var asgiLifespan string

//go:embed asgi_entry.py
var asgiEntry string

// Sentinel errors of the ASGI runtime.
var (
	// ErrLoopStopped: the loop is not running (stopped, or never started).
	ErrLoopStopped = errors.New("pyshim: the ASGI event loop is not running")
	// ErrLifespanUnsupported: with --lifespan auto, the app raised on
	// lifespan.startup without answering: it does not do lifespan, and
	// the worker goes on (Uvicorn's rule).
	ErrLifespanUnsupported = errors.New("pyshim: the ASGI app does not support the lifespan protocol")
)

// LoopOptions configure an ASGI Loop.
type LoopOptions struct {
	// Loop is "auto" (uvloop when importable, else asyncio), "asyncio"
	// or "uvloop" (an error when uvloop cannot be imported): Uvicorn's
	// --loop.
	Loop string
	// Lifespan is "auto", "on" or "off" (Uvicorn's --lifespan). With
	// "off" Startup and Shutdown do nothing.
	Lifespan string
	// App is the spec of the ASGI app to import on the loop's thread;
	// "" serves the app LoadApp loaded (the worker's way).
	App string
	// Log receives messages of the loop itself (an exception no task
	// retrieved, a lifespan task failing after startup), on the Loop's
	// dispatching goroutine: it must not block long. nil: standard
	// error.
	Log func(text string)
}

// Loop is a running ASGI event loop. Its methods are safe for
// concurrent use and, but for Running, never take the GIL.
type Loop struct {
	q       *C.gw_aqueue  // immutable; freed when the loop's thread ends
	out     *os.File      // immutable: the eventfd the loop writes when the app sent events
	wake    chan struct{} // a post found the loop not yet woken: wakeLoop wakes it
	opt     LoopOptions
	name    string        // "asyncio" or "uvloop"; immutable after StartLoop
	thread  uint64        // the loop's thread as the traceback dump names it; immutable after StartLoop
	asking  *loopQuestion // guarded by mu: Running's question waiting for the GIL, or nil
	stopped chan struct{} // closed when the loop's thread has returned
	runErr  error         // set before stopped is closed

	// dmu serialises the takes of the app's events: dispatch's and
	// release's last one.
	dmu      sync.Mutex
	outEnded bool // guarded by dmu: the queue is freed

	mu    sync.Mutex
	conns map[uint64]*Conn // guarded by mu: open connections by id
	// noCalls, guarded by mu, is closed when conns empties (AwaitCalls).
	noCalls chan struct{}
	nextID  uint64 // guarded by mu
	closed  bool   // guarded by mu: Stop was called; no more posts
	// pend is guarded by mu: events posted, not yet handed to C
	// (appendEvent's layout); pendSince when the first of them was.
	pend      []byte
	pendSince time.Time
	probedAt  time.Time // guarded by mu: when lag last queued a no-op
	spare     []byte    // guarded by mu: wakeLoop's previous batch, for pend to reuse
	handing   bool      // guarded by mu: wakeLoop is handing a batch of pend to C

	// qmu guards qFreed and, read-locked, keeps the C queue from being
	// freed while wakeLoop or Stalled call into C without mu.
	qmu      sync.RWMutex
	qFreed   bool
	lifespan chan lifespanResult
}

type lifespanResult struct {
	what int // asgi.py LS_*
	text string
}

// asgi.py's LS_* (what out(OUT_LIFESPAN) reports).
const (
	lsStarted = iota
	lsFailed
	lsUnsupported
	lsStopped
)

// StartLoop starts the event loop on an OS thread of its own and
// returns once it runs. Init must have run and the GIL been released
// (ReleaseMain); with opt.App empty, LoadApp must have loaded the app.
func StartLoop(opt LoopOptions) (*Loop, error) {
	switch opt.Loop {
	case "", "auto", "asyncio", "uvloop":
	default:
		return nil, fmt.Errorf("pyshim: unknown event loop %q: auto, asyncio or uvloop", opt.Loop)
	}
	switch opt.Lifespan {
	case "", "auto", "on", "off":
	default:
		return nil, fmt.Errorf("pyshim: unknown lifespan mode %q: auto, on or off", opt.Lifespan)
	}
	opt.Loop = cmpOr(opt.Loop, "auto")
	opt.Lifespan = cmpOr(opt.Lifespan, "auto")
	var efd, ofd C.int
	q, err := C.gw_aq_new(&efd, &ofd)
	if q == nil {
		return nil, fmt.Errorf("pyshim: creating the event queue: %w", err)
	}
	l := &Loop{
		q: q, opt: opt, stopped: make(chan struct{}), out: os.NewFile(uintptr(ofd), "asgi-out"),
		conns: make(map[uint64]*Conn), lifespan: make(chan lifespanResult, 1),
	}
	l.wake = make(chan struct{}, 1)
	go l.dispatch()
	go l.wakeLoop()
	ready := make(chan error, 1)
	go l.run(efd, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return l, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// run is the loop's goroutine, locked to its OS thread for the loop's
// life: asyncio's running loop and the thread state the app's
// contextvars live in belong to one thread.
func (l *Loop) run(efd C.int, ready chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(l.stopped)
	const n = len(asgiSources)
	names := (*[n]*C.char)(C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	srcs := (*[n]*C.char)(C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	for i, part := range asgiSources {
		names[i], srcs[i] = C.CString(part.name), C.CString(part.src)
	}
	cloop, clife, capp := C.CString(l.opt.Loop), C.CString(l.opt.Lifespan), C.CString(l.opt.App)
	var cname, cerr *C.char
	rc := C.gw_asgi_prepare(l.q, efd, &names[0], &srcs[0], C.int(n), cloop, clife, capp, &cname, &cerr)
	for _, p := range append(append([]*C.char{cloop, clife, capp}, names[:]...), srcs[:]...) {
		C.free(unsafe.Pointer(p))
	}
	C.free(unsafe.Pointer(names))
	C.free(unsafe.Pointer(srcs))
	if rc != 0 {
		l.release()
		ready <- takeError(cerr, "cannot create the event loop")
		return
	}
	l.name = C.GoString(cname)
	l.thread = uint64(C.gw_asgi_thread_ident())
	C.free(unsafe.Pointer(cname))
	ready <- nil
	if C.gw_asgi_run(&cerr) != 0 {
		l.runErr = takeError(cerr, "the event loop failed")
	}
	l.release()
}

// release hands out the app's last events, frees the queue once Python
// no longer uses it, and ends every Conn still open.
func (l *Loop) release() {
	l.dmu.Lock()
	l.takeLocked()
	l.outEnded = true
	l.dmu.Unlock()
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = nil
	l.noteCallsEnded()
	l.mu.Unlock()
	for _, c := range conns {
		c.finish(Sent{Kind: SentDone, Traceback: "the event loop stopped"})
	}
	l.qmu.Lock()
	l.qFreed = true
	C.gw_aq_free(l.q)
	l.qmu.Unlock()
	l.out.Close() // dispatch returns
}

// Name is the loop implementation in use: "asyncio" or "uvloop".
func (l *Loop) Name() string { return l.name }

// post queues one event for the loop. It fails when the loop is gone.
// The event waits in Go (pend) until wakeLoop hands the batch to C.
func (l *Loop) post(conn uint64, kind, flags int, code int64, data []byte) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrLoopStopped
	}
	first := len(l.pend) == 0
	if first {
		l.pendSince = time.Now()
	}
	l.pend = appendEvent(l.pend, conn, kind, flags, code, data)
	l.mu.Unlock()
	if first {
		select {
		case l.wake <- struct{}{}:
		default: // wakeLoop is about to
		}
	}
	return nil
}

// appendEvent appends one event in gw_aq_post's layout (asgi.c).
func appendEvent(b []byte, conn uint64, kind, flags int, code int64, data []byte) []byte {
	b = binary.NativeEndian.AppendUint64(b, conn)
	b = binary.NativeEndian.AppendUint32(b, uint32(int32(kind)))
	b = binary.NativeEndian.AppendUint32(b, uint32(int32(flags)))
	b = binary.NativeEndian.AppendUint64(b, uint64(code))
	b = binary.NativeEndian.AppendUint64(b, uint64(len(data)))
	b = append(b, data...)
	return append(b, make([]byte, -len(b)&7)...)
}

// wakeLoop hands the events posted to the loop's queue and wakes the
// loop, after every goroutine runnable now has run: runtime.Gosched
// puts it behind them, so that the requests read in one go reach the
// loop in one batch, with one cgo call. Woken at the first post
// instead, the loop (which preempts the poster on a shared CPU) would
// take them one at a time, with a context switch and an eventfd round
// each.
func (l *Loop) wakeLoop() {
	for {
		select {
		case <-l.wake:
		case <-l.stopped:
			return
		}
		runtime.Gosched()
		l.mu.Lock()
		batch, since := l.pend, l.pendSince
		l.pend = l.spare[:0]
		l.handing = len(batch) > 0
		l.mu.Unlock()
		if len(batch) > 0 {
			l.qmu.RLock() // the queue stays while C uses it, without holding up posts
			if !l.qFreed {
				rc := C.gw_aq_post(l.q, bytesPtr(batch), C.size_t(len(batch)), C.int64_t(time.Since(since)))
				if rc != 0 {
					C.gw_aq_wake(l.q)
				}
				if rc < 0 {
					l.logf("pyshim: out of memory queueing ASGI events: some are lost")
				}
			}
			l.qmu.RUnlock()
		}
		if cap(batch) > maxKeptPend {
			batch = nil
		}
		l.mu.Lock()
		l.spare = batch[:0]
		l.handing = false
		l.mu.Unlock()
	}
}

// maxKeptPend is the largest buffer of posted events kept between
// batches (a batch may carry 64 KiB pieces of request bodies).
const maxKeptPend = 1 << 20

// Startup runs the lifespan protocol's startup and waits for the app's
// answer, up to timeout (0: no limit). nil when the app completed it,
// or with --lifespan off; ErrLifespanUnsupported with --lifespan auto
// and an app that raised instead (the worker goes on); else an error
// with the app's message or traceback (the worker must stop).
func (l *Loop) Startup(timeout time.Duration) error {
	if l.opt.Lifespan == "off" {
		return nil
	}
	r, err := l.lifespanStep(C.GW_IN_STARTUP, timeout)
	if err != nil {
		return err
	}
	switch r.what {
	case lsStarted:
		return nil
	case lsUnsupported:
		return fmt.Errorf("%w: %s", ErrLifespanUnsupported, r.text)
	}
	return &AppError{Traceback: r.text}
}

// Shutdown runs the lifespan protocol's shutdown, after the last
// connection, and waits for the app's answer up to timeout (0: no
// limit). nil when it completed (or lifespan is off or unsupported).
func (l *Loop) Shutdown(timeout time.Duration) error {
	if l.opt.Lifespan == "off" {
		return nil
	}
	r, err := l.lifespanStep(C.GW_IN_SHUTDOWN, timeout)
	if err != nil {
		return err
	}
	if r.what == lsFailed {
		return &AppError{Traceback: r.text}
	}
	return nil
}

func (l *Loop) lifespanStep(kind int, timeout time.Duration) (lifespanResult, error) {
	select {
	case <-l.lifespan: // a late answer to an earlier step that timed out
	default:
	}
	if err := l.post(0, kind, 0, 0, nil); err != nil {
		return lifespanResult{}, err
	}
	var expire <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expire = t.C
	}
	select {
	case r := <-l.lifespan:
		return r, nil
	case <-l.stopped:
		return lifespanResult{}, cmpErr(l.runErr, ErrLoopStopped)
	case <-expire:
		return lifespanResult{}, fmt.Errorf("pyshim: the ASGI app did not answer the lifespan event within %v", timeout)
	}
}

func cmpErr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// Stop stops the loop: tasks still running are cancelled, then the loop
// closes. It waits for the loop's thread up to timeout and returns the
// loop's own failure, if any. Idempotent.
func (l *Loop) Stop(timeout time.Duration) error {
	l.post(0, C.GW_IN_STOP, 0, 0, nil)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-l.stopped:
		return l.runErr
	case <-t.C:
		return fmt.Errorf("pyshim: the event loop did not stop within %v", timeout)
	}
}

// Calls is how many requests and WebSockets the app's calls are still
// running for, their responses complete or not.
func (l *Loop) Calls() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// AwaitCalls waits until the app's calls have all returned, or timeout;
// it reports whether they did. A call may go on after its response is
// complete (Starlette's and FastAPI's background tasks run there), and
// a graceful stop waits for them, as Uvicorn's does, before the
// lifespan shutdown and Stop, which cancels what is left.
func (l *Loop) AwaitCalls(timeout time.Duration) bool {
	l.mu.Lock()
	if len(l.conns) == 0 {
		l.mu.Unlock()
		return true
	}
	if l.noCalls == nil {
		l.noCalls = make(chan struct{})
	}
	done := l.noCalls
	l.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// noteCallsEnded wakes AwaitCalls once no call is left; under mu.
func (l *Loop) noteCallsEnded() {
	if len(l.conns) == 0 && l.noCalls != nil {
		close(l.noCalls)
		l.noCalls = nil
	}
}

// Done is closed when the loop's thread has returned.
func (l *Loop) Done() <-chan struct{} { return l.stopped }

func (l *Loop) logf(text string) {
	if l.opt.Log != nil {
		l.opt.Log(text)
		return
	}
	os.Stderr.WriteString(text + "\n")
}
