package engine

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/httpparse"
	"golang.org/x/sys/unix"
)

// A body that fits neither budget streams: wsgi.input reads it from the
// connection while the app runs, so nothing of it is stored beyond a
// socket buffer. A feeder goroutine reads the connection (de-chunking,
// enforcing --limit-request-body and --body-timeout as for a body read
// ahead) and writes into one end of a unix socket pair; wsgi.input is a
// buffered reader on the other end (pyshim's file input), whose read(2)
// runs with the GIL released, as every blocking read must. The app's
// thread waits only while the app reads and the client has not sent the
// bytes yet; the feeder waits while the app does not read (the pair's
// buffer is full), and so does the client.
//
// A socket pair rather than a pipe, for one thing a pipe cannot do: tell
// the app that the body was cut short. The feeder then puts a byte in
// its own end's receive queue (written from the app's end, which nothing
// else writes to) and closes its end: Linux marks the peer ECONNRESET
// when a unix stream socket is closed with unread data (af_unix.c,
// unix_release_sock), so wsgi.input raises ConnectionResetError once it
// has read what was delivered, where EOF would have passed a truncated
// upload off as whole.

// streamSendBuffer bounds the bytes waiting in the pair for the app
// (the kernel doubles it): the rest waits in the client's socket.
const streamSendBuffer = 64 << 10

// streamChunk is the feeder's read size.
const streamChunk = 64 << 10

// errStreamStopped is why a stream ended when the response was over (or
// the request timed out) before the app read the whole body.
var errStreamStopped = errors.New("worker: request body stream stopped")

// errBodyTooSlow: a streamed body fell below --body-min-rate.
var errBodyTooSlow = errors.New("worker: the request body arrives slower than --body-min-rate")

// errStreamPanicked: the feeder panicked (contained).
var errStreamPanicked = errors.New("worker: request body stream panicked")

// pastDeadline is a deadline that has passed: blocked reads and writes
// return at once.
var pastDeadline = time.Unix(1, 0)

// bodyStream delivers one request body to the app as it arrives.
type bodyStream struct {
	c   *conn     // its connection; the feeder owns c.br and c.req.Body until done is closed
	src io.Reader // the body, from the connection
	// The part read ahead before the budget ran out, delivered first: a
	// spilled file (from offset 0), then memory (all of it when nothing
	// was spilled; what could not be stored when the disk filled up).
	// Owned by requestBody.
	prefixFile *os.File
	prefixMem  []byte

	goEnd *os.File // the feeder's end, non-blocking (runtime poller); closed by feed
	pyEnd *os.File // the app's end, blocking; wsgi.input reads a dup; closed by stop
	done  chan struct{}

	// received counts the body bytes read ahead and read since (stats).
	received atomic.Int64
	// whole: the client has sent the whole body (its length, or the
	// end of a chunked one), set before the app can have the last
	// bytes; done is closed later.
	whole  atomic.Bool
	length int64 // the body's length, -1 for chunked
	// call is the liveness clock of the slot the app reads the body in
	// (nil while it holds none): each piece from the client restarts it,
	// as each step of a streamed response does, so a long upload from a
	// slow client is not a stuck worker (--timeout), nor --request-
	// timeout's request; --body-timeout bounds the client's pauses. The
	// pair buffers 128 KiB at most, so an app that stops reading stops
	// the restarts.
	call atomic.Pointer[callState]

	// The client's time under --body-min-rate (the feeder's): how long
	// it has kept the feeder waiting, for how many bytes, and whether
	// the read deadline armed is the rate's.
	waited     time.Duration
	fromClient int64
	rateBound  bool

	mu      sync.Mutex
	stopped bool  // guarded by mu: the feeder reads no more
	err     error // guarded by mu: why the body was cut short; nil while whole
}

// startStream makes the rest of the body (from src, length bytes or -1
// when unknown) stream to the app, after what readAhead stored of it.
func (c *conn) startStream(src io.Reader, length int64) error {
	b := &c.body
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%w: %w", errBodyStore, os.NewSyscallError("socketpair", err))
	}
	// Only the feeder's end is non-blocking: Python's buffered reader
	// would take EAGAIN for the end of the body.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return fmt.Errorf("%w: %w", errBodyStore, os.NewSyscallError("fcntl", err))
	}
	unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, streamSendBuffer) // best effort
	s := &bodyStream{
		c: c, src: src, length: length,
		goEnd: os.NewFile(uintptr(fds[0]), "body stream"),
		pyEnd: os.NewFile(uintptr(fds[1]), "wsgi.input"),
		done:  make(chan struct{}),
	}
	s.prefixFile = b.file
	if b.mem != nil {
		s.prefixMem = b.mem.data
	}
	s.received.Store(max(b.size, 0)) // what was read ahead
	s.whole.Store(length >= 0 && b.size >= length)
	b.size = length // CONTENT_LENGTH when known; a chunked body has none
	b.stream.Store(s)
	// The connection keeps counting as load while the feeder waits for
	// the client: the app's Python thread is taken, and the accept gate
	// must not count it free (the accept gate). Cleared by stop, after the feeder.
	c.nc.hold = true
	c.srv.log.Debug().Int64("content_length", length).Msg("request body streams to the app")
	go s.feed()
	return nil
}

// feed delivers the body, then closes its end: EOF for the app, or a
// reset when the body was cut short. It runs on its own goroutine.
func (s *bodyStream) feed() {
	defer close(s.done)
	if err := s.copyContained(); err != nil {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
		// Into the feeder's own receive queue, so that closing it resets
		// the app's end (see the top of this file).
		unix.Write(int(s.pyEnd.Fd()), []byte{0})
	}
	s.goEnd.Close()
}

// copyContained is copy with a panic contained to this body, as one in
// the connection's goroutine is (panic.go): the body is cut, the worker
// goes on.
func (s *bodyStream) copyContained() (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.c.srv.stats.panicked()
			s.c.srv.log.Error().Str("panic", fmt.Sprint(v)).Str("remote", s.c.info.RemoteAddr).
				Msg("panic reading a streamed request body; the body is cut, the worker goes on:\n" + string(debug.Stack()))
			err = errStreamPanicked
		}
	}()
	return s.copy()
}

func (s *bodyStream) copy() error {
	buf := make([]byte, streamChunk)
	if s.prefixFile != nil {
		for {
			n, err := s.prefixFile.Read(buf)
			if n > 0 {
				if _, werr := s.goEnd.Write(buf[:n]); werr != nil {
					return werr
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("%w: %w", errBodyStore, err)
			}
		}
	}
	if len(s.prefixMem) > 0 {
		if _, err := s.goEnd.Write(s.prefixMem); err != nil {
			return err
		}
	}
	for {
		if !s.arm() {
			return errStreamStopped
		}
		readAt := time.Now()
		n, err := s.src.Read(buf)
		s.waited += time.Since(readAt)
		s.fromClient += int64(n)
		if err != nil && s.rateBound && errors.Is(err, os.ErrDeadlineExceeded) {
			err = errBodyTooSlow
		}
		// Before the app can read the last bytes: one that reads
		// CONTENT_LENGTH bytes answers without waiting for the end.
		if got := s.received.Add(int64(n)); err == io.EOF || s.length >= 0 && got >= s.length {
			s.whole.Store(true)
		}
		if n > 0 {
			if _, werr := s.goEnd.Write(buf[:n]); werr != nil {
				return werr
			}
			if call := s.call.Load(); call != nil {
				call.next(time.Now())
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// arm sets the deadline for the next body bytes, unless the stream was
// stopped: under mu, so that a stop's past deadline, set after, is the
// one the next read sees.
func (s *bodyStream) arm() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.rateBound = s.c.streamDeadline(s.waited, s.fromClient)
	return true
}

// cut makes the feeder stop reading and the app's next read of the body
// fail with err, without waiting; the request timeout calls it from its
// own goroutine, so that an app waiting for body bytes that do not come
// returns to Python and sees its TimeoutError. A no-op once stopped.
func (s *bodyStream) cut(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	if s.err == nil {
		s.err = err
	}
	s.c.nc.SetReadDeadline(pastDeadline)
	s.goEnd.SetWriteDeadline(pastDeadline)
}

// stop ends the stream once the response is over: a feeder still
// reading or waiting for the app to read is stopped (the body is then
// not Done, and the connection closes), then the app's end is closed.
// On the connection goroutine.
func (s *bodyStream) stop() {
	interrupted := false
	select {
	case <-s.done: // delivered whole (or failed): the connection's deadlines are its own again
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
	default:
		if s.whole.Load() {
			// The client sent it all, so the connection may carry
			// another request; the feeder may still wait to hand the
			// app the last bytes, which it will not read now.
			s.goEnd.SetWriteDeadline(pastDeadline)
			<-s.done
			s.mu.Lock()
			s.stopped = true
			s.mu.Unlock()
			break
		}
		s.cut(errStreamStopped)
		<-s.done
		interrupted = true
	}
	s.c.nc.hold = false
	if interrupted {
		// The client may still be sending what the app did not read:
		// closing now could reset the connection before it reads the
		// response (RFC 9112 §9.6). The connection then closes, as the
		// rest of the body is not read.
		s.c.lingeringClose()
	}
	s.pyEnd.Close()
}

// failed returns why the body was cut short before the app's response,
// nil when it was not.
func (s *bodyStream) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// refuseStreamedBody answers for the app when the streamed body it read
// was cut by the client (the app saw it end early, so whatever it made
// of it is not the answer): past --limit-request-body or malformed
// framing, the parser's answer (413, RFC 9110 §15.5.14; 400, 431), as
// for a body read ahead; a client that went away mid-body gets none,
// and the app's answer or error is logged at debug level, as for a
// client that left while the app waited (Gunicorn ignores such resets).
// Called once the app's first step is in, before anything was sent; it
// reports whether it answered.
func (c *conn) refuseStreamedBody(st *streamer) bool {
	s := c.body.stream.Load()
	if s == nil {
		return false
	}
	err := s.failed()
	var perr *httpparse.Error
	switch {
	case errors.As(err, &perr):
		st.x.call.Abort() // the app's error, if any, is the cut body it read
		st.finish()
		c.srv.log.Info().Int("status", perr.Status).Str("reason", perr.Reason).
			Str("remote", c.info.RemoteAddr).Msg("bad request: the streamed body")
		c.writeAppError(perr.Status, perr.Reason)
		return true
	case errors.Is(err, errBodyTooSlow) || errors.Is(err, os.ErrDeadlineExceeded):
		// --body-min-rate or --body-timeout cut it while the app's
		// thread waited: the client is slow, not gone, and gets a 408.
		st.x.call.Abort()
		st.finish()
		msg := "the request body arrived slower than --body-min-rate; cut"
		if !errors.Is(err, errBodyTooSlow) {
			msg = "the request body made no progress for --body-timeout; cut"
		}
		c.srv.log.Info().Str("path", string(c.req.Path)).Str("request_id", c.requestID()).
			Str("remote", c.info.RemoteAddr).Int64("received", s.received.Load()).Msg(msg)
		c.writeAppError(http.StatusRequestTimeout, "The request body arrived too slowly.")
		return true
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		st.x.call.Abort()
		st.finish()
		if c.acc.status == 0 {
			c.acc.status = StatusClientClosed
		}
		c.srv.log.Debug().Str("path", string(c.req.Path)).Str("request_id", c.requestID()).Err(err).
			Msg("the client went away while sending the body; nobody to answer")
		return true
	}
	return false
}
