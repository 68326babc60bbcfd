package integration

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// PEP 3333: write() must not return before its data is sent or buffered
// for sending, so the first block reaches the client while the app still
// runs. The app only finishes once the test, having read that block,
// creates the mark file.
func TestWriteIsSentWhileTheAppRuns(t *testing.T) {
	s := start(t, serverOpts{args: []string{"pep3333:write_then_wait"}})
	mark := filepath.Join(t.TempDir(), "seen")
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /?mark="+mark+" HTTP/1.1\r\nHost: t\r\n\r\n")
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got strings.Builder
	for !strings.Contains(got.String(), "first block;") {
		b, err := br.ReadByte()
		if err != nil {
			t.Fatalf("the write() block did not arrive while the app ran: %v (got %q)", err, got.String())
		}
		got.WriteByte(b)
	}
	if err := os.WriteFile(mark, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !strings.Contains(got.String(), "rest\r\n0\r\n\r\n") {
		b, err := br.ReadByte()
		if err != nil {
			t.Fatalf("the rest of the response: %v (got %q)", err, got.String())
		}
		got.WriteByte(b)
	}
	if !strings.Contains(got.String(), "Transfer-Encoding: chunked") {
		t.Errorf("a response started by write() without a length is not chunked: %q", got.String())
	}
}

// An app that raises after write() sent the head: the connection is cut
// (no terminating chunk), the traceback logged, the worker lives on.
func TestWriteThenRaiseCutsTheResponse(t *testing.T) {
	s := start(t, serverOpts{args: []string{"pep3333:write_then_raise"}})
	pids := s.workerPIDs()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	all, _ := io.ReadAll(c)
	got := string(all)
	if !strings.HasPrefix(got, "HTTP/1.1 200 ") || !strings.Contains(got, "partial;") || strings.HasSuffix(got, "0\r\n\r\n") {
		t.Fatalf("response %q; want the 200 head and the partial block, cut before the last chunk", got)
	}
	s.waitFor(func() bool { return strings.Contains(s.output(), "failed after write()") })
	if now := s.workerPIDs(); len(now) != 1 || now[0] != pids[0] {
		t.Fatalf("worker pids went from %v to %v: the worker died", pids, now)
	}
}
