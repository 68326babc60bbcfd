package integration

import (
	"bufio"
	"bytes"
	endian "encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// What docs/asgi.md claims of the ASGI worker's limits, each seen from
// outside: the 1,000 requests a worker runs at once, the 16 WebSocket
// messages read ahead of the app, the 500 for an app that raises before
// websocket.accept. asgi_claims:app has a control socket of its own, so
// the test can ask and steer it while all its request slots are taken.

func claimsServer(t *testing.T, args ...string) (*server, *bufio.ReadWriter) {
	t.Helper()
	marks := t.TempDir()
	s := start(t, serverOpts{args: append(append([]string{"-k", "asgi"}, args...), "asgi_claims:app"),
		env: []string{"ASGI_MARKS=" + marks}})
	c, err := net.Dial("unix", filepath.Join(marks, "control.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return s, bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c))
}

// ask sends one command to the app's control socket and returns its
// answer.
func ask(t *testing.T, ctl *bufio.ReadWriter, cmd string) string {
	t.Helper()
	ctl.WriteString(cmd + "\n")
	ctl.Flush()
	line, err := ctl.ReadString('\n')
	if err != nil {
		t.Fatalf("control %q: %v", cmd, err)
	}
	return strings.TrimSpace(line)
}

// procNetTCP reads /proc/net/tcp: for each socket, its local and remote
// ports, state, and tx_queue:rx_queue (for a listening socket, rx_queue
// is its accept queue: connections the kernel completed and nobody
// accepted yet).
type tcpRow struct {
	local, remote int
	state         int
	tx, rx        int
}

func procNetTCP(t *testing.T) []tcpRow {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	var rows []tcpRow
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		hex := func(s string) int { n, _ := strconv.ParseInt(s, 16, 64); return int(n) }
		port := func(addr string) int { _, p, _ := strings.Cut(addr, ":"); return hex(p) }
		tx, rx, _ := strings.Cut(f[4], ":")
		rows = append(rows, tcpRow{local: port(f[1]), remote: port(f[2]), state: hex(f[3]), tx: hex(tx), rx: hex(rx)})
	}
	return rows
}

const tcpListen = 0x0A

func portOf(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// TestASGIThousandRequestsAtOnce: a worker runs at most 1,000 requests
// at once (--worker-connections is 20,000 by default); the rest wait
// for a slot, most of them not accepted, in the listen queue, where a
// sibling worker could take them, and are served as requests end.
func TestASGIThousandRequestsAtOnce(t *testing.T) {
	const most, extra = 1000, 3
	raiseNoFile(t, 4*(most+extra)+256)
	s, ctl := claimsServer(t, "--admin-bind", "127.0.0.1:0")
	metrics := s.adminURL() + "/metrics"
	conns := make([]net.Conn, most+extra)
	for i := range conns {
		c, err := net.Dial("tcp", s.address())
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		io.WriteString(c, "GET /slot HTTP/1.1\r\nHost: x\r\n\r\n")
		conns[i] = c
	}
	port := portOf(s.address())
	queued := func() int {
		n := 0
		for _, r := range procNetTCP(t) {
			if r.local == port && r.state == tcpListen {
				n += r.rx
			}
		}
		return n
	}
	// The extra requests wait for a slot: accepted (the worker's
	// requests in flight, which counts those, is over 1,000), or not
	// even that (in the listen queue), as the accept gate allowed.
	var last string
	t.Cleanup(func() {
		if t.Failed() {
			t.Log("last seen: " + last)
		}
	})
	s.waitFor(func() bool {
		_, m := adminGet(t, metrics)
		inflight, busy := metricValue(m, "gowsgi_requests_in_flight"), metricValue(m, "gowsgi_python_threads_busy")
		app, q := ask(t, ctl, "stats"), queued()
		last = fmt.Sprintf("app (now, most) %s, requests in flight %v, slots busy %v, listen queue %d", app, inflight, busy, q)
		return app == fmt.Sprintf("%d %d", most, most) && busy == most && int(inflight)-most+q == extra
	})
	ask(t, ctl, "release")
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "answered" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
		}
	}
	if got := ask(t, ctl, "stats"); got != fmt.Sprintf("0 %d", most) {
		t.Errorf("app in flight now, most at once: %s; want 0 %d", got, most)
	}
}

// wsHandshake opens a WebSocket to path without extensions (no
// permessage-deflate: the bytes on the wire are the messages').
func wsHandshake(t *testing.T, addr, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := dial(t, addr)
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	return c, br
}

// maskedFrame is one masked frame (RFC 6455 §5.2) with FIN set.
func maskedFrame(op byte, payload []byte) []byte {
	f := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n < 1<<16:
		f = append(f, 0x80|126)
		f = endian.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 0x80|127)
		f = endian.BigEndian.AppendUint64(f, uint64(n))
	}
	mask := [4]byte{1, 2, 3, 4}
	f = append(f, mask[:]...)
	for i, b := range payload {
		f = append(f, b^mask[i%4])
	}
	return f
}

// TestASGIWebSocketReadAhead: a client that sends while its app does not
// receive gets at most 16 messages (and the one being read) into the
// worker; then the worker stops reading and the client's sends block on
// TCP. Seen from the kernel's side: of what the client wrote, all but
// what the worker read waits in the client's send queue and the
// worker's receive queue. Once the app receives, every message arrives.
func TestASGIWebSocketReadAhead(t *testing.T) {
	s, ctl := claimsServer(t)
	c, _ := wsHandshake(t, s.address(), "/hoard")
	frame := maskedFrame(0x2, bytes.Repeat([]byte("m"), 64<<10))
	const maxFrames = 2048 // 128 MiB: far past any kernel buffer
	written, frames := 0, 0
	var partial int
	for ; frames < maxFrames; frames++ {
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Write(frame)
		written += n
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("writing message %d: %v", frames, err)
			}
			partial = n
			break
		}
	}
	if frames == maxFrames {
		t.Fatalf("the client wrote %d messages of 64 KiB without blocking: the worker reads without bound", frames)
	}
	var outq int
	raw, _ := c.(*net.TCPConn).SyscallConn()
	clientPort := portOf(c.LocalAddr().String())
	serverPort := portOf(s.address())
	consumed := func() int {
		raw.Control(func(fd uintptr) { outq, _ = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) })
		for _, r := range procNetTCP(t) {
			if r.local == serverPort && r.remote == clientPort {
				return written - outq - r.rx
			}
		}
		t.Fatal("the worker's side of the connection is not in /proc/net/tcp")
		return 0
	}
	// The reader hands 16 messages to the app, reads a 17th and waits;
	// what it read past that sits in two 4 KiB read buffers at most.
	atMost := 17*len(frame) + 8<<10
	s.waitFor(func() bool {
		n := consumed()
		if n > atMost {
			t.Fatalf("the worker read %d bytes (%.1f messages) of an app that receives nothing; want at most %d",
				n, float64(n)/float64(len(frame)), atMost)
		}
		return n >= 16*len(frame)
	})
	ask(t, ctl, "drain")
	c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(append(frame[partial:], maskedFrame(0x1, []byte("end"))...)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(c, hdr); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, hdr[1]&0x7f)
	io.ReadFull(c, reply)
	sent := frames + 1
	if want := fmt.Sprintf("%d %d", sent, sent*(64<<10)); string(reply) != want {
		t.Errorf("the app received %q; want %q (every message, once the app receives)", reply, want)
	}
}

// TestASGIWebSocketRaiseBeforeAccept: an app that raises before
// websocket.accept gets the client an HTTP 500 (nothing was accepted),
// as Uvicorn answers, and its traceback logged; the worker serves on.
func TestASGIWebSocketRaiseBeforeAccept(t *testing.T) {
	s, _ := claimsServer(t)
	c := dial(t, s.address())
	io.WriteString(c, "GET /raise HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("an app raising before accept: %v %v; want 500", resp, err)
	}
	s.waitFor(func() bool {
		return len(s.loggedContaining("RuntimeError: the app raised before websocket.accept")) > 0
	})
	if code, body := s.get("/"); code != 200 || body != "answered" {
		t.Errorf("after the 500: %d %q", code, body)
	}
}
