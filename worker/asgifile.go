package worker

import (
	"os"

	"github.com/gowsgi/gowsgi/engine"
	"github.com/gowsgi/gowsgi/pyshim"
)

// The ASGI extensions that hand the engine a file to send with
// sendfile(2): http.response.pathsend and http.response.zerocopysend.

// pathsend opens the file of http.response.pathsend for the engine to
// send with sendfile; the response ends after it.
func (w *asgiCaller) pathsend(c *pyshim.Conn, path string) engine.Step {
	f, err := os.Open(path)
	var fi os.FileInfo
	if err == nil {
		fi, err = f.Stat()
	}
	if err != nil || !fi.Mode().IsRegular() {
		if f != nil {
			f.Close()
		}
		c.Disconnect(0, "")
		w.detach()
		w.reap(c)
		w.complete = true
		tb := "http.response.pathsend: " + path + " is not a regular file"
		if err != nil {
			tb = "http.response.pathsend: " + err.Error()
		}
		return w.out(engine.Step{Failed: true, Traceback: tb})
	}
	w.file, w.bodyDone, w.fileLast = f, true, true
	return w.out(engine.Step{File: engine.FileRegion{Fd: int(f.Fd()), Len: fi.Size()}})
}

// zerocopy applies an http.response.zerocopysend: the region of the
// app's file (a duplicate descriptor, which w now owns) is a Step of its
// own, sent as pathsend's file is. A region with more body after it
// waits for the head to go first, in a Step of its own: with the region
// in the head's Step, the engine would take the region's length for the
// whole body's.
func (w *asgiCaller) zerocopy(c *pyshim.Conn, ev *pyshim.Sent) (engine.Step, bool) {
	if ev.More && !w.headSent {
		w.next-- // this event again, once the head is out
		return w.out(engine.Step{}), true
	}
	f := ev.File
	ev.File = nil
	if f == nil || ev.Count == 0 {
		f.Close() // nil-safe
		if ev.More {
			return engine.Step{}, false
		}
		w.bodyDone = true
		if !w.trailers {
			return w.finishResponse(c), true
		}
		return engine.Step{}, false
	}
	w.file = f
	if !ev.More {
		w.bodyDone, w.fileLast = true, true
	}
	return w.out(engine.Step{File: engine.FileRegion{Fd: int(f.Fd()), Offset: ev.Offset, Len: ev.Count}}), true
}
