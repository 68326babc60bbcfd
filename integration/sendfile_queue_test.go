package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"
)

// While a wsgi.file_wrapper file goes out with sendfile, the server keeps
// little of it queued unsent on the socket (TCP_NOTSENT_LOWAT), rather
// than the whole file: a client that stops reading holds a bounded share
// of kernel memory, and the client's own reads do not end up sending the
// server's data (docs/benchmarks.md, bigfile). The file still arrives
// whole once the client reads.
func TestSendfileKeepsLittleUnsent(t *testing.T) {
	path, content := randomFile(t, 8<<20)
	s := start(t, serverOpts{args: []string{"pep3333:file_region"}})
	// A small receive buffer: the client's window closes early, so what
	// the server queues beyond it stays in the server's send queue.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 32<<10)
		})
	}}
	c, err := d.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /?path=%s HTTP/1.1\r\nHost: h\r\n\r\n", path)

	// The send queue of the server's end of this connection, sampled until
	// it stops moving: the server has queued all it will.
	local, remote := c.RemoteAddr().String(), c.LocalAddr().String()
	most, last, still := int64(0), int64(-1), 0
	for deadline := time.Now().Add(10 * time.Second); still < 20; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server's send queue never settled (last %d bytes)", last)
		}
		q, ok := sendQueue(t, local, remote)
		if !ok {
			continue
		}
		if q == last {
			still++
		} else {
			still = 0
		}
		last, most = q, max(most, q)
	}
	if most == 0 {
		t.Fatal("the server never queued any of the file")
	}
	if most > 512<<10 {
		t.Fatalf("the server queued up to %d bytes of an 8 MiB file for a client that stopped reading; want at most 512 KiB", most)
	}

	c.SetDeadline(time.Now().Add(20 * time.Second))
	w := &wireConn{t: t, c: c, br: bufio.NewReader(c)}
	if resp, body := w.response("GET"); resp.StatusCode != 200 || !bytes.Equal([]byte(body), content) {
		t.Fatalf("after reading: %d, %d bytes; want 200 and the file's %d bytes", resp.StatusCode, len(body), len(content))
	}
}
