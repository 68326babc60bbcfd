package engine

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/gowsgi/gowsgi/httpparse"
	"golang.org/x/sys/unix"
)

// bodyTestConn is a connection that reads request from memory (its
// socket is used only for deadlines), on a server with the given
// budgets and --max-buffered-body 64 KiB.
func bodyTestConn(t *testing.T, request []byte, memBudget, diskBudget, limitBody int64) *conn {
	t.Helper()
	c := uwsgiTestConn(iotest.HalfReader(bytes.NewReader(request)))
	c.srv.maxBufferedBody = 64 << 10
	c.srv.bodies = &bodyBudgets{mem: budget{limit: memBudget}, disk: budget{limit: diskBudget}}
	c.reader = httpparse.NewReader(c.br, httpparse.Limits{Body: limitBody})
	if err := c.reader.ReadRequest(&c.req); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", t.TempDir())
	return c
}

func postRequest(body []byte, chunked bool) []byte {
	if !chunked {
		return fmt.Appendf(nil, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}
	req := []byte("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
	for len(body) > 0 {
		n := min(len(body), 10000)
		req = fmt.Appendf(req, "%x\r\n%s\r\n", n, body[:n])
		body = body[n:]
	}
	return append(req, "0\r\n\r\n"...)
}

func randomBody(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(n)})
	r.Read(b)
	return b
}

// Each body reaches the app whole, read ahead into memory or a file or
// streamed, as the budgets allow; the budgets are never exceeded and are
// all given back.
func TestRequestBodyBudgets(t *testing.T) {
	const mem, disk = 256 << 10, 1 << 20
	tests := []struct {
		name          string
		size          int
		chunked       bool
		mem, disk     int64
		want          string // memory, file or stream
		wantMemHeld   int64  // at most
		wantDiskBytes int64  // at most, in the file
	}{
		{name: "small in memory", size: 1000, mem: mem, disk: disk, want: "memory", wantMemHeld: smallBody},
		{name: "small chunked in memory", size: 1000, chunked: true, mem: mem, disk: disk, want: "memory", wantMemHeld: smallBody},
		{name: "over max-buffered-body to a file", size: 200 << 10, mem: mem, disk: disk, want: "file", wantDiskBytes: 200 << 10},
		{name: "chunked over max-buffered-body to a file", size: 200 << 10, chunked: true, mem: mem, disk: disk, want: "file", wantDiskBytes: 200 << 10},
		{name: "no memory budget: to a file", size: 1000, mem: 0, disk: disk, want: "file", wantDiskBytes: 1000},
		{name: "over the disk budget streams", size: 3 << 20, mem: mem, disk: disk, want: "stream"},
		{name: "chunked over the disk budget streams after it", size: 3 << 20, chunked: true, mem: mem, disk: disk, want: "stream", wantDiskBytes: disk},
		{name: "no budget at all streams", size: 1000, want: "stream"},
		{name: "chunked, no budget at all streams", size: 100 << 10, chunked: true, want: "stream"},
		{name: "chunked, memory only, streams after it", size: 100 << 10, chunked: true, mem: mem, want: "stream", wantMemHeld: 64<<10 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := randomBody(tt.size)
			c := bodyTestConn(t, postRequest(body, tt.chunked), tt.mem, tt.disk, 0)
			if err := c.readBody(); err != nil {
				t.Fatal(err)
			}
			b := &c.body
			budgets := b.budgets
			if used := budgets.mem.used.Load(); used > tt.mem || used > tt.wantMemHeld {
				t.Errorf("memory budget used %d; want at most %d (budget %d)", used, tt.wantMemHeld, tt.mem)
			}
			if used := budgets.disk.used.Load(); used > tt.disk {
				t.Errorf("disk budget used %d; over the budget %d", used, tt.disk)
			}
			if b.file != nil {
				var st unix.Stat_t
				if err := unix.Fstat(int(b.file.Fd()), &st); err != nil {
					t.Fatal(err)
				}
				if st.Size > tt.wantDiskBytes {
					t.Errorf("%d bytes written to the file; want at most %d", st.Size, tt.wantDiskBytes)
				}
			}
			got := "memory"
			switch {
			case b.stream.Load() != nil:
				got = "stream"
			case b.file != nil:
				got = "file"
			}
			if got != tt.want {
				t.Errorf("the body went to %s; want %s", got, tt.want)
			}
			var read []byte
			var err error
			if ab := b.appBody(); ab.File != nil {
				read, err = io.ReadAll(ab.File)
			} else {
				read = ab.Data
			}
			if err != nil || sha256.Sum256(read) != sha256.Sum256(body) {
				t.Errorf("the app read %d bytes (%v); want the %d sent", len(read), err, len(body))
			}
			if got := b.received(); got != int64(len(body)) {
				t.Errorf("received %d body bytes (for the stats); want %d", got, len(body))
			}
			if want := int64(len(body)); got == "stream" && tt.chunked {
				if b.size != -1 {
					t.Errorf("a streamed chunked body has size %d; want -1 (no CONTENT_LENGTH)", b.size)
				}
			} else if b.size != want {
				t.Errorf("body size %d; want %d", b.size, want)
			}
			b.release()
			if budgets.mem.used.Load() != 0 || budgets.disk.used.Load() != 0 {
				t.Errorf("after release: memory %d, disk %d still held", budgets.mem.used.Load(), budgets.disk.used.Load())
			}
			if !c.req.Body.Done() {
				t.Error("the body was not read to its end")
			}
		})
	}
}

// Two bodies at once share the memory budget: the one that does not fit
// goes to a file, and the budget is whole again once both are released.
func TestRequestBodyMemoryBudgetIsShared(t *testing.T) {
	// Each takes a buffer of 60 KiB to 64 KiB (smallBody): one fits.
	first := bodyTestConn(t, postRequest(randomBody(60<<10), false), 100<<10, 1<<20, 0)
	second := bodyTestConn(t, postRequest(randomBody(60<<10), false), 0, 0, 0)
	second.srv.bodies = first.srv.bodies
	for _, c := range []*conn{first, second} {
		if err := c.readBody(); err != nil {
			t.Fatal(err)
		}
	}
	if first.body.file != nil || second.body.file == nil {
		t.Fatalf("files: first %v, second %v; want the second only", first.body.file != nil, second.body.file != nil)
	}
	first.body.release()
	second.body.release()
	if b := first.srv.bodies; b.mem.used.Load() != 0 || b.disk.used.Load() != 0 {
		t.Fatalf("budgets still held: memory %d, disk %d", b.mem.used.Load(), b.disk.used.Load())
	}
}

// A body the memory budget refuses allocates no buffer of its size: the
// budget is asked before the buffer is taken. It used to be allocated,
// refused and dropped, once per upload over the budget.
func TestRefusedBodyAllocatesNoBuffer(t *testing.T) {
	const size = 1 << 20
	c := bodyTestConn(t, postRequest(randomBody(size), false), 0, 2<<20, 0)
	c.srv.maxBufferedBody = 2 << 20 // the body would go to memory if the budget allowed
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := c.readBody(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if c.body.file == nil {
		t.Fatal("the body refused by the memory budget is not in a file")
	}
	if got := after.TotalAlloc - before.TotalAlloc; got >= size {
		t.Errorf("reading a %d-byte body to a file allocated %d bytes; want less than the body", size, got)
	}
	c.body.release()
}

// A streamed chunked body that goes over --limit-request-body is cut
// there: the app's read fails (it is not passed off as whole), and the
// stream says why, for the 413.
func TestStreamedBodyOverTheLimit(t *testing.T) {
	c := bodyTestConn(t, postRequest(randomBody(300<<10), true), 0, 0, 200<<10)
	if err := c.readBody(); err != nil {
		t.Fatal(err)
	}
	read, err := io.ReadAll(c.body.appBody().File)
	if !errors.Is(err, unix.ECONNRESET) || len(read) > 200<<10 {
		t.Fatalf("the app read %d bytes, then %v; want at most the limit, then a reset", len(read), err)
	}
	var perr *httpparse.Error
	if s := c.body.stream.Load(); !errors.As(s.failed(), &perr) || perr.Status != 413 {
		t.Fatalf("stream failed with %v; want a 413", s.failed())
	}
	c.body.release()
}

// An app that stops reading a streamed body does not hold the
// connection: the stream is stopped with the response, the body is not
// Done (the connection closes), and the app's end reads no more.
func TestStreamStopsWithTheResponse(t *testing.T) {
	c := bodyTestConn(t, postRequest(randomBody(1<<20), false), 0, 0, 0)
	if err := c.readBody(); err != nil {
		t.Fatal(err)
	}
	f := c.body.appBody().File
	if _, err := io.ReadFull(f, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	c.body.release() // waits for the feeder
	if c.req.Body.Done() {
		t.Fatal("a body the app left unread is Done")
	}
	if _, err := f.Read(make([]byte, 1)); err == nil {
		t.Fatal("the app's end still reads after the stream stopped")
	}
}

// The memory in use is only the buffers: a chunked stream of several MiB
// is delivered through a socket buffer, not accumulated.
func TestStreamDeliversInOrder(t *testing.T) {
	body := []byte(strings.Repeat("0123456789abcdef", 1<<16)) // 1 MiB
	c := bodyTestConn(t, postRequest(body, true), 0, 0, 0)
	if err := c.readBody(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(bufio.NewReaderSize(c.body.appBody().File, 1000))
	c.body.release()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read %d bytes (%v); want the %d sent, in order", len(got), err, len(body))
	}
}
