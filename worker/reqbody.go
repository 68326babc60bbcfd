package worker

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/pyshim"
	"golang.org/x/sys/unix"
)

// errBodyStore means an upload could not be written to its temporary
// file: a server fault (a full disk), not the client's.
var errBodyStore = errors.New("worker: cannot store the request body")

// requestBody is a request body read completely before the app runs, so
// a slow uploader never holds a Python thread: in a pooled buffer, or,
// past --max-buffered-body, in an unlinked temporary file. Owned by the
// connection goroutine and reused for each request.
type requestBody struct {
	mem  *bodyBuf // the body when file is nil; nil when there is none
	file *os.File // a spilled body, read from offset 0
	size int64
}

// py is the body as the app's wsgi.input reads it.
func (b *requestBody) py() pyshim.Body {
	if b.file != nil {
		return pyshim.Body{File: b.file}
	}
	if b.mem == nil {
		return pyshim.Body{}
	}
	return pyshim.Body{Data: b.mem.data}
}

// release returns the storage and forgets the body.
func (b *requestBody) release() {
	putBody(b.mem)
	if b.file != nil {
		b.file.Close() // unlinked already: the space is freed
	}
	*b = requestBody{}
}

// readBody reads the current request's whole body into c.body. Expect:
// 100-continue is answered first (RFC 9110 §10.1.1). Each read must make
// progress within --body-timeout.
func (c *conn) readBody() error {
	b := &c.body
	if c.req.ContentLength == 0 && !c.req.Chunked {
		return nil
	}
	if c.req.ExpectContinue {
		if err := c.nc.writeAll([][]byte{continue100}, c.srv.writeTimeout); err != nil {
			return err
		}
	}
	limit := c.srv.maxBufferedBody
	b.mem = getBody()
	if c.req.ContentLength > limit {
		return c.spillBody(b)
	}
	if cl := c.req.ContentLength; int64(cap(b.mem.data)) <= cl {
		// Size the buffer once from Content-Length: growing it by append
		// from 4 KiB copied a 1 MiB upload about eight times over. The
		// extra byte is room for the read that reports the end, which
		// would otherwise grow a full buffer once more.
		b.mem.data = make([]byte, 0, cl+1)
	}
	for {
		data := b.mem.data
		if len(data) == cap(data) {
			if int64(len(data)) >= limit {
				return c.spillBody(b)
			}
			data = append(data, 0)[:len(data)]
		}
		c.bodyDeadline()
		n, err := c.req.Body.Read(data[len(data):cap(data)])
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

var continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")

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

// spillBody moves what is buffered of the body to a temporary file and
// reads the rest into it, through the buffer's storage.
func (c *conn) spillBody(b *requestBody) error {
	f, err := tempFile()
	if err != nil {
		return fmt.Errorf("%w: %w", errBodyStore, err)
	}
	b.file = f
	if _, err := f.Write(b.mem.data); err != nil {
		return fmt.Errorf("%w: %w", errBodyStore, err)
	}
	scratch := b.mem.data[:cap(b.mem.data)]
	if len(scratch) < 64<<10 {
		scratch = make([]byte, 64<<10)
		b.mem.data = scratch[:0]
	}
	for {
		c.bodyDeadline()
		n, err := c.req.Body.Read(scratch)
		if n > 0 {
			if _, werr := f.Write(scratch[:n]); werr != nil {
				return fmt.Errorf("%w: %w", errBodyStore, werr)
			}
			b.size += int64(n)
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

var bodyPool = sync.Pool{New: func() any { return &bodyBuf{data: make([]byte, 0, 4096)} }}

func getBody() *bodyBuf { return bodyPool.Get().(*bodyBuf) }

// maxPooledBody is the largest body buffer kept for reuse: a default
// --max-buffered-body upload and its end-of-body byte.
const maxPooledBody = 1<<20 + 1

func putBody(b *bodyBuf) {
	if b == nil {
		return
	}
	if cap(b.data) > maxPooledBody {
		return // let a rare huge body go rather than pin it
	}
	b.data = b.data[:0]
	bodyPool.Put(b)
}
