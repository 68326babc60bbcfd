package worker

import (
	"io"
	"os"

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
	done bool
	buf  []byte
	// wants wakes the feeder goroutine of a pipe; nil until the first
	// want. stop ends it with the request.
	wants chan struct{}
	stop  chan struct{}
}

func newBodyFeed(c *pyshim.Conn, b engine.Body) *bodyFeed {
	f := &bodyFeed{c: c, data: b.Data, file: b.File}
	if f.file != nil {
		fi, err := f.file.Stat()
		f.pipe = err != nil || !fi.Mode().IsRegular()
	}
	return f
}

// want answers the app's wait in receive(). Request goroutine.
func (f *bodyFeed) want() {
	if !f.pipe {
		f.next()
		return
	}
	if f.wants == nil {
		f.wants, f.stop = make(chan struct{}, 1), make(chan struct{})
		go f.feed()
	}
	select {
	case f.wants <- struct{}{}:
	default:
	}
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
		f.c.Body(nil, false)
	default:
		f.done = true
		f.c.Disconnect(0, "")
	}
}
