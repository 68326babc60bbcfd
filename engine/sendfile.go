package engine

import (
	"errors"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/wsgi"
	"golang.org/x/sys/unix"
)

// errFileShrank: a wsgi.file_wrapper file ended before the length its
// size promised; the framing already sent cannot be honoured.
var errFileShrank = errors.New("worker: the file being sent ended early")

// sendfileStep is how much of a file one write deadline covers, so a
// slow but live client of a big file is not cut off, as writeTimeout is
// meant per write.
const sendfileStep = 4 << 20

// knownBodyLen is the length of the whole response body when the first
// step already holds all of it, so the head can carry a Content-Length
// instead of chunked framing; -1 otherwise. A file region is always the
// last part of a body.
func knownBodyLen(step *Step) int64 {
	switch {
	case step.TrailersFollow:
		return -1 // chunked, to carry the trailers
	case step.Done:
		return int64(len(step.Body) + len(step.Big))
	case step.File.Len > 0 && len(step.Big) == 0:
		return int64(len(step.Body)) + step.File.Len
	}
	return -1
}

// sendsFile reports whether sendFile will put bytes of f on the wire
// (after what frame has counted), which then push out anything sent
// with MSG_MORE before them.
func (w *bodyWriter) sendsFile(f FileRegion) bool {
	switch w.plan.Framing {
	case wsgi.FrameNone:
		return false
	case wsgi.FrameLength:
		return f.Len > 0 && w.remaining > 0
	}
	return f.Len > 0
}

// sendFile writes a wsgi.file_wrapper's file region in the plan's
// framing, with sendfile(2) from the region's offset so the bytes never
// pass through user space; a no-op for an empty region. Like the other
// body parts it is cut at the app's Content-Length (PEP 3333). On error
// unsent is how many of the region's bytes did not reach the socket, so
// that the access log counts what the client could get.
func (w *bodyWriter) sendFile(f FileRegion) (unsent int64, err error) {
	n := f.Len
	switch w.plan.Framing {
	case wsgi.FrameNone:
		return 0, nil
	case wsgi.FrameLength:
		n = min(n, w.remaining)
		w.remaining -= n
	}
	if n <= 0 {
		return 0, nil
	}
	if w.plan.Framing == wsgi.FrameChunked {
		size := strconv.AppendInt(w.sizes[0][:0], n, 16)
		if err := w.flush([][]byte{append(size, '\r', '\n')}); err != nil {
			return f.Len, err
		}
	}
	if left, err := w.copyRegion(f.Fd, f.Offset, n); err != nil {
		return f.Len - n + left, err
	}
	if w.plan.Framing == wsgi.FrameChunked {
		return 0, w.flush([][]byte{crlf})
	}
	return 0, nil
}

// copyRegion sends n bytes of fd from off: with sendfile through the
// socket's poller when the connection exposes its descriptor, else (and
// with --no-sendfile, or where sendfile cannot send this file) with
// pread and writes. On error left is how many were not sent.
func (w *bodyWriter) copyRegion(fd int, off, n int64) (left int64, err error) {
	sc, ok := w.nc.(syscall.Conn)
	if !ok || w.noSendfile || encrypts(w.nc) { // tls.go: the bytes go through TLS in user space
		return w.preadCopy(fd, off, n)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return n, err
	}
	if n >= sendfileLowatMin {
		if _, tcp := w.nc.LocalAddr().(*net.TCPAddr); tcp {
			defer holdUnsentLow(rc)()
		}
	}
	first := true // no byte of the region sent yet
	for n > 0 {
		step := min(n, sendfileStep)
		n -= step
		if w.timeout > 0 {
			w.nc.SetWriteDeadline(time.Now().Add(w.timeout))
		}
		var serr error
		err := rc.Write(func(sock uintptr) bool {
			for step > 0 {
				sent, err := unix.Sendfile(int(sock), fd, &off, int(step))
				step -= int64(max(sent, 0))
				if sent > 0 {
					first = false
				}
				switch {
				case err == unix.EAGAIN:
					return false // wait until the socket is writable
				case err == unix.EINTR:
				case err != nil:
					serr = err
					return true
				case sent == 0:
					serr = errFileShrank
					return true
				}
			}
			return true
		})
		if err == nil {
			err = serr
		}
		if first && sendfileUnable(err) {
			// A file system or a sandbox that sendfile cannot serve, as
			// Go's own net package falls back: the same bytes by hand.
			return w.preadCopy(fd, off, n+step)
		}
		if err != nil {
			return n + step, err
		}
	}
	return 0, nil
}

// sendfileUnable reports whether err says sendfile cannot send this
// file at all (a file system without splice support, an old kernel, a
// seccomp profile refusing the call), rather than that the transfer
// failed.
func sendfileUnable(err error) bool {
	switch err {
	case unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP, unix.EPERM:
		return true
	}
	return false
}

// sendfileLowat caps the bytes of a file queued on the socket but not
// yet sent (TCP_NOTSENT_LOWAT) while sendfile runs. Without it one call
// queues the whole file, and the rest of it is transmitted from inside
// the client's own system calls, by the ACKs its reads send: on
// loopback, the client's CPU pays for the server's sending. Measured
// here (pinned, wrk on the other core, a 1 MiB file, 2 workers): wrk
// spent 300-400 us of CPU per response without it, 130-140 us with it,
// and req/s went from 2.4-3.4k to 5.7-7.8k; 32 KiB did as well, 64 KiB
// (the loopback segment size) half as well. It also bounds the kernel
// memory a slow client's file holds. Only for the file: the same cap on
// a 1 MiB response from memory cost the server 490 us instead of 190, as
// what sendmsg does not take at once of a finished response is copied
// into the outbox (respond.go, send).
const sendfileLowat = 16 << 10

// sendfileLowatMin is the smallest region worth two more system calls:
// below it the file fits the socket's buffers at once either way.
const sendfileLowatMin = 128 << 10

// holdUnsentLow sets TCP_NOTSENT_LOWAT to sendfileLowat on the socket
// and returns what restores the kernel's default (0: the
// net.ipv4.tcp_notsent_lowat sysctl). Failing is harmless: the file goes
// out as it would without.
func holdUnsentLow(rc syscall.RawConn) (restore func()) {
	set := func(v int) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, v)
		}); err != nil {
			return err
		}
		return serr
	}
	if set(sendfileLowat) != nil {
		return func() {}
	}
	return func() { set(0) }
}

func (w *bodyWriter) preadCopy(fd int, off, n int64) (left int64, err error) {
	buf := make([]byte, min(n, 64<<10))
	for n > 0 {
		m, err := unix.Pread(fd, buf[:min(n, int64(len(buf)))], off)
		if m <= 0 {
			if err == nil {
				err = errFileShrank
			}
			return n, err
		}
		if err := w.flush([][]byte{buf[:m]}); err != nil {
			return n, err
		}
		off += int64(m)
		n -= int64(m)
	}
	return 0, nil
}
