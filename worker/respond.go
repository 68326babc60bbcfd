package worker

import (
	"net"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/gowsgi/gowsgi/wsgi"
)

func statusText(code int) string { return http.StatusText(code) }

// respond runs the app for the current request and writes its response.
// It reports whether the connection may carry another request.
func (c *conn) respond(body *bodyBuf) bool {
	req := &c.req
	bodyLen := int64(-1)
	if req.HasContentLength || req.Chunked {
		bodyLen = int64(len(body.data))
	}
	if !c.chooseScheme() {
		return false
	}
	c.buildEnviron(bodyLen) // HTTP or uwsgi: uwsgi.go
	defer c.logAccess(c.beginAccess())

	sl := <-c.srv.slots
	defer func() { c.srv.slots <- sl }()
	sl.call.begin(req.Method, req.Path, time.Now())
	defer sl.call.end()
	// One OS thread for the whole exchange: a generator resumed between
	// chunks sees the same thread state (threading.local, contextvars).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	step := sl.ex.Call(c.env.Bytes(), pyshim.Body{Data: body.data})
	if step.Failed {
		c.logAppError(step.Traceback)
		c.writeError(http.StatusInternalServerError, "The application failed.")
		return false
	}
	if step.Traceback != "" {
		c.logAppError(step.Traceback) // close() raised after a complete body
	}
	x := wsgi.Exchange{
		Minor:     req.Minor,
		Head:      string(req.Method) == "HEAD",
		KeepAlive: req.KeepAlive,
		BodyLen:   -1,
	}
	x.BodyLen = knownBodyLen(&step)
	head, plan, err := wsgi.AppendHead(sl.head[:0], step.Status, step.Headers(), x, c.srv.dates.Get(time.Now()))
	sl.head = head[:0]
	if err != nil {
		if tb := sl.ex.Abort(); tb != "" {
			c.logAppError(tb)
		}
		c.srv.log.Error().Err(err).Str("path", string(req.Path)).Msg("invalid response from the application")
		c.writeError(http.StatusInternalServerError, "The application sent an invalid response.")
		return false
	}
	c.noteHead(&step, plan)
	w := bodyWriter{nc: c.nc, plan: plan, remaining: plan.ContentLength}
	return c.stream(sl.ex, &w, head, step)
}

// stream writes the head with the first step's body, then asks Python
// for the rest, one step at a time, releasing the GIL while it writes.
func (c *conn) stream(ex *pyshim.Exchange, w *bodyWriter, head []byte, step pyshim.Step) bool {
	bufs := net.Buffers{head}
	for {
		bufs = w.frame(bufs, step.Body, step.Big)
		c.acc.produced += int64(len(step.Body) + len(step.Big))
		if step.Done && w.plan.Framing == wsgi.FrameChunked {
			bufs = append(bufs, lastChunk)
		}
		err := w.flush(bufs)
		if err == nil {
			err = w.sendFile(step.File) // a wsgi.file_wrapper's file, if any
		}
		if err != nil {
			if tb := ex.Abort(); tb != "" {
				c.logAppError(tb)
			}
			return false
		}
		bufs = bufs[:0]
		if step.Done {
			return w.complete() && w.plan.KeepAlive
		}
		step = ex.Next()
		if step.Failed {
			// The head is out: cut the connection so the client sees a
			// truncated response rather than a complete-looking one.
			c.logAppError(step.Traceback)
			return false
		}
		if step.Traceback != "" {
			c.logAppError(step.Traceback)
		}
	}
}

func (c *conn) logAppError(tb string) {
	c.srv.log.Error().Str("method", string(c.req.Method)).Str("path", string(c.req.Path)).
		Msg("error handling request:\n" + tb)
}

var lastChunk = []byte("0\r\n\r\n")

// bodyWriter frames body bytes as the plan says.
type bodyWriter struct {
	nc        net.Conn
	plan      wsgi.Plan
	remaining int64 // FrameLength: bytes still owed
	sizes     [2][20]byte
}

// frame appends the parts to bufs with the framing of the plan: chunk
// size lines for chunked, truncation at Content-Length, nothing at all
// for a body-less response.
func (w *bodyWriter) frame(bufs net.Buffers, parts ...[]byte) net.Buffers {
	for i, p := range parts {
		if len(p) == 0 {
			continue
		}
		switch w.plan.Framing {
		case wsgi.FrameNone:
			continue
		case wsgi.FrameLength:
			if int64(len(p)) > w.remaining {
				p = p[:w.remaining] // PEP 3333: never send more than Content-Length
			}
			w.remaining -= int64(len(p))
			if len(p) > 0 {
				bufs = append(bufs, p)
			}
		case wsgi.FrameChunked:
			size := strconv.AppendInt(w.sizes[i][:0], int64(len(p)), 16)
			size = append(size, '\r', '\n')
			bufs = append(bufs, size, p, crlf)
		case wsgi.FrameClose:
			bufs = append(bufs, p)
		}
	}
	return bufs
}

var crlf = []byte("\r\n")

func (w *bodyWriter) flush(bufs net.Buffers) error {
	if len(bufs) == 0 {
		return nil
	}
	w.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := bufs.WriteTo(w.nc)
	return err
}

// complete reports whether the body matched its framing: an app that
// sent less than its Content-Length leaves the client waiting for bytes
// that never come, so the connection must close.
func (w *bodyWriter) complete() bool {
	return w.plan.Framing != wsgi.FrameLength || w.remaining == 0
}
