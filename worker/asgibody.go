package worker

import (
	"io"
	"os"
	"sync/atomic"

	"github.com/gowsgi/gowsgi/engine"
	"github.com/gowsgi/gowsgi/pyshim"
)

// bodyChunk is the most request body bytes one http.request event carries.
const bodyChunk = 64 << 10

// bodyFeed delivers the request body to receive(), one chunk each time
// the app asks: from memory, from the engine's file (a spilled upload,
// read with positional reads) or from its pipe (a streamed upload). A
// pipe is read on a goroutine of the feed's own, so that a client slow
// to send never holds up the response the app sends meanwhile.
type bodyFeed struct {
	c    *pyshim.Conn // immutable
	data []byte
	file *os.File
	pipe bool  // file is a pipe: read it with Read, on the feeder
	off  int64 // next offset in file
	done bool  // the feeder's (a pipe's) or else the request goroutine's
	buf  []byte
	// delivered: the whole body went to the app (the last http.request
	// event); set where done is, read by the request goroutine.
	delivered atomic.Bool
	// wants wakes the feeder goroutine of a pipe; nil until the first
	// want. stop ends it with the request.
	wants chan struct{}
	stop  chan struct{}
}

// newBodyFeed returns the feed of b to c's app: in w's storage, which
// only the request's goroutine uses, unless b is a pipe, whose feeder
// goroutine may outlive the request (a read blocked until the engine
// ends the stream).
func (w *asgiCaller) newBodyFeed(c *pyshim.Conn, b engine.Body) *bodyFeed {
	pipe := false
	if b.File != nil {
		fi, err := b.File.Stat()
		pipe = err != nil || !fi.Mode().IsRegular()
	}
	if pipe {
		return &bodyFeed{c: c, file: b.File, pipe: true}
	}
	w.feed = bodyFeed{c: c, data: b.Data, file: b.File}
	return &w.feed
}

// want answers the app's wait in receive(). It reports whether the body
// was all delivered: the app then waits past it, for http.disconnect
// (the Caller watches the client, watchClient). Request goroutine; f is
// nil for a WebSocket's denial, which has no body to give.
func (f *bodyFeed) want() (past bool) {
	if f == nil || f.delivered.Load() {
		return f != nil
	}
	if !f.pipe {
		f.next()
		return false
	}
	if f.wants == nil {
		f.wants, f.stop = make(chan struct{}, 1), make(chan struct{})
		go f.feed()
	}
	select {
	case f.wants <- struct{}{}:
	default:
	}
	return false
}

// end stops the feeder, if any, when the request is over. A feeder
// blocked in a read returns when the engine ends the stream.
func (f *bodyFeed) end() {
	if f != nil && f.stop != nil {
		close(f.stop)
		f.stop = nil
	}
}

func (f *bodyFeed) feed() {
	stop := f.stop
	for !f.done {
		select {
		case <-f.wants:
			f.next()
		case <-stop:
			return
		}
	}
}

// next delivers the next chunk, the end of the body, or, when the body
// was cut short (the client went away, --body-timeout, the size limit),
// http.disconnect.
func (f *bodyFeed) next() {
	if f.done {
		return // the app waits past the body: only a disconnect comes
	}
	if f.file == nil {
		n := min(len(f.data), bodyChunk)
		f.done = n == len(f.data)
		f.delivered.Store(f.done)
		f.c.Body(f.data[:n], !f.done)
		f.data = f.data[n:]
		return
	}
	if f.buf == nil {
		f.buf = make([]byte, bodyChunk)
	}
	var n int
	var err error
	if f.pipe {
		n, err = f.file.Read(f.buf)
	} else {
		n, err = f.file.ReadAt(f.buf, f.off)
	}
	f.off += int64(n)
	switch {
	case n > 0 && (err == nil || err == io.EOF):
		f.c.Body(f.buf[:n], true)
	case err == io.EOF:
		f.done = true
		f.delivered.Store(true)
		f.c.Body(nil, false)
	default:
		f.done = true
		f.c.Disconnect(0, "")
	}
}

// watchClient starts the engine's watch of the connection once the app
// waits in receive() with the body all delivered (a long poll, Starlette's
// StreamingResponse listening for http.disconnect, an app awaiting its
// client's going): only such a request pays for it (a goroutine and a
// read). Request goroutine.
func (w *asgiCaller) watchClient() {
	if w.gone == nil && w.req != nil {
		w.gone = w.req.WatchClient()
	}
}

// clientGone ends the response of a client that went away while its app
// waited (the watch fired): the app gets http.disconnect (ASGI HTTP spec
// 2.4; its send() raises ClientDisconnected from then on), a reaper
// waits for its end and logs what it raised at debug level, and the
// engine, which saw the client go, closes the connection without an
// answer.
func (w *asgiCaller) clientGone(c *pyshim.Conn) engine.Step {
	c.Disconnect(0, "")
	w.detach()
	w.reap(c)
	w.complete = true
	return engine.Step{Failed: true}
}
