package integration

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Tests of the request body budgets (worker/reqbody.go, bodystream.go):
// what is read ahead into memory or temporary files stays within
// --body-memory-budget and --body-spill-budget, and what does not fit
// streams to the app. Apps in testdata/apps/bodies.py.

// upload is one client's POST of size pseudo-random bytes (seeded), with
// Content-Length or chunked, on its own connection.
type upload struct {
	size    int64
	chunked bool
	seed    byte

	status int
	answer string // the app's "sha256 bytes kind"
	sent   string // sha256 of what was sent
	err    error
}

// send posts the body to path and reads the response.
func (u *upload) send(addr, path string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		u.err = err
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	w := bufio.NewWriterSize(c, 64<<10)
	framing := fmt.Sprintf("Content-Length: %d", u.size)
	if u.chunked {
		framing = "Transfer-Encoding: chunked"
	}
	fmt.Fprintf(w, "POST %s HTTP/1.1\r\nHost: t\r\n%s\r\n\r\n", path, framing)
	h := sha256.New()
	rng := rand.NewChaCha8([32]byte{u.seed})
	piece := make([]byte, 64<<10)
	for left := u.size; left > 0; {
		p := piece[:min(left, int64(len(piece)))]
		rng.Read(p)
		h.Write(p)
		if u.chunked {
			fmt.Fprintf(w, "%x\r\n", len(p))
		}
		if _, err := w.Write(p); err != nil {
			u.err = fmt.Errorf("sending the body: %w", err)
			return
		}
		if u.chunked {
			w.WriteString("\r\n")
		}
		left -= int64(len(p))
	}
	if u.chunked {
		w.WriteString("0\r\n\r\n")
	}
	if err := w.Flush(); err != nil {
		u.err = fmt.Errorf("sending the body: %w", err)
		return
	}
	u.sent = hex.EncodeToString(h.Sum(nil))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		u.err = fmt.Errorf("reading the response: %w", err)
		return
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	u.status, u.answer, u.err = resp.StatusCode, string(b), err
}

// spilledBytes is the size of the files a process has open under dir:
// its spilled bodies (anonymous files show as dir/#N (deleted)).
func spilledBytes(t *testing.T, pid int, dir string) int64 {
	t.Helper()
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	seen := map[uint64]bool{} // the worker and the app each hold a descriptor of a spilled body
	for _, e := range ents {
		p := filepath.Join(fdDir, e.Name())
		target, err := os.Readlink(p)
		if err != nil || !strings.HasPrefix(target, dir+"/") {
			continue
		}
		if st, err := os.Stat(p); err == nil && !seen[st.Sys().(*syscall.Stat_t).Ino] {
			seen[st.Sys().(*syscall.Stat_t).Ino] = true
			total += st.Size()
		}
	}
	return total
}

func rssOf(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestBodiesOverTheBudgetsStream: six clients at once send bodies far
// over the worker's budgets (4 MiB in memory, 8 MiB on disk, 96 MiB in
// all) to an app that reads nothing until all six have arrived. What is
// read ahead stays within the budgets (the spilled files, the worker's
// RSS), the rest streams; another client is served meanwhile; every app
// gets every byte; nothing is left in the spill directory.
func TestBodiesOverTheBudgetsStream(t *testing.T) {
	const memBudget, diskBudget = 4 << 20, 8 << 20
	spill := t.TempDir()
	arrived, gate := t.TempDir(), filepath.Join(t.TempDir(), "gate")
	s := start(t, serverOpts{
		args: []string{"--threads", "8", "--max-buffered-body", strconv.Itoa(16 << 20),
			"--body-memory-budget", strconv.Itoa(memBudget), "--body-spill-budget", strconv.Itoa(diskBudget), "bodies:app"},
		env: []string{"TMPDIR=" + spill},
	})
	pid := s.workerPIDs()[0]
	for range 20 { // warm up the worker before taking its RSS
		if code, _ := s.get("/hello"); code != 200 {
			t.Fatalf("warm-up: %d", code)
		}
	}
	rssBefore := rssOf(t, pid)

	uploads := []*upload{
		{size: 3 << 20, seed: 1}, {size: 3 << 20, seed: 2}, // in memory or spilled
		{size: 12 << 20, chunked: true, seed: 3}, {size: 12 << 20, chunked: true, seed: 4}, // memory, spill, then stream
		{size: 32 << 20, seed: 5}, {size: 32 << 20, seed: 6}, // over the disk budget: streams
	}
	path := "/digest?arrived=" + arrived + "&gate=" + gate
	var wg sync.WaitGroup
	for _, u := range uploads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u.send(s.addr, path)
		}()
	}
	t.Cleanup(func() {
		os.WriteFile(gate, nil, 0o600) // let the apps go if the test failed early
		wg.Wait()
	})
	s.waitFor(func() bool {
		ents, _ := os.ReadDir(arrived)
		return len(ents) == len(uploads)
	})
	// Every app has been called: the bodies read ahead are all stored,
	// the streams wait for their app to read.
	spilled, rss := spilledBytes(t, pid, spill), rssOf(t, pid)
	t.Logf("while the apps wait: %d KiB spilled, worker RSS %d -> %d KiB", spilled>>10, rssBefore>>10, rss>>10)
	if spilled > diskBudget {
		t.Errorf("%d bytes spilled; the budget is %d", spilled, diskBudget)
	}
	// The memory budget, plus the feeders' buffers, what the runtime and
	// the apps' threads touch, and garbage the Go GC has not collected
	// yet (the chunked bodies' buffers double as they grow, and GOGC lets
	// garbage reach the live heap's size): far below the 96 MiB the
	// bodies hold. The growth was 6-13 MiB over 12 runs, once 17 MiB in
	// a full make test, against a bound of 16 MiB then.
	if grew := rss - rssBefore; grew > memBudget+20<<20 {
		t.Errorf("the worker's RSS grew by %d KiB with the bodies in flight; want at most the %d KiB budget and 20 MiB",
			grew>>10, memBudget>>10)
	}
	if code, body := s.get("/hello"); code != 200 || body != "hello" {
		t.Errorf("another client while the uploads wait: %d %q", code, body)
	}

	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	kinds := map[string]int{}
	for i, u := range uploads {
		if u.err != nil || u.status != 200 {
			t.Errorf("upload %d (%d bytes, chunked %v): %d %v", i, u.size, u.chunked, u.status, u.err)
			continue
		}
		f := strings.Fields(u.answer)
		if len(f) != 3 || f[0] != u.sent || f[1] != strconv.FormatInt(u.size, 10) {
			t.Errorf("upload %d (%d bytes, chunked %v): the app read %q; want sha256 %s of %d bytes",
				i, u.size, u.chunked, u.answer, u.sent, u.size)
			continue
		}
		kinds[f[2]]++
		if u.size > diskBudget && f[2] != "stream" {
			t.Errorf("upload %d (%d bytes) over the disk budget reached the app as %s; want stream", i, u.size, f[2])
		}
	}
	t.Logf("wsgi.input kinds: %v", kinds)
	// The worker lets go of a request's body once its response is sent,
	// so a client can have its answer a moment before.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ents, _ := os.ReadDir(spill)
		n := spilledBytes(t, pid, spill)
		if len(ents) == 0 && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("15 s after the last answer: %d entries left in the spill directory, %d bytes of spilled bodies held by the worker",
				len(ents), n)
			break
		}
	}
}

// readHead reads a response's status line and headers from c within 20 s.
func readHead(t *testing.T, c net.Conn) *http.Response {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	resp.Body.Close()
	return resp
}

// TestSpilledBodyFreedWithItsRequest: an app that keeps wsgi.input
// past its request holds no spilled body: the file is freed when the
// request ends, and the kept stream reads as empty.
func TestSpilledBodyFreedWithItsRequest(t *testing.T) {
	spill := t.TempDir()
	s := start(t, serverOpts{args: []string{"--body-memory-budget", "0", "bodies:app"},
		env: []string{"TMPDIR=" + spill}})
	pid := s.workerPIDs()[0]
	for range 3 {
		if code, body := do(t, http.MethodPost, s.url("/keep"), strings.Repeat("x", 1<<20)); code != 200 || body != "kept file" {
			t.Fatalf("/keep: %d %q", code, body)
		}
	}
	s.waitFor(func() bool { return spilledBytes(t, pid, spill) == 0 })
	if code, body := s.get("/kept"); code != 200 || body != "0 0 0" {
		t.Fatalf("/kept: %d %q; want three empty streams", code, body)
	}
}

// TestBodyOverTheLimit: a body over --limit-request-body gets 413 and
// Connection: close, never the app: at once when Content-Length says
// so (no body byte sent), and as soon as the limit is passed when
// chunked, both when the body is read ahead and when it streams to an
// app that reads it (the app's answer to a cut body is not sent).
func TestBodyOverTheLimit(t *testing.T) {
	const limit = 1 << 20
	for _, budgets := range []struct{ name, mem, disk string }{
		{name: "read ahead", mem: "67108864", disk: "67108864"},
		{name: "streamed", mem: "0", disk: "0"},
	} {
		t.Run(budgets.name, func(t *testing.T) {
			s := start(t, serverOpts{args: []string{"--limit-request-body", strconv.Itoa(limit),
				"--body-memory-budget", budgets.mem, "--body-spill-budget", budgets.disk, "bodies:app"}})
			t.Run("Content-Length", func(t *testing.T) {
				c, err := net.Dial("tcp", s.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				fmt.Fprintf(c, "POST /digest HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", limit+1)
				resp := readHead(t, c)
				if resp.StatusCode != 413 || !resp.Close {
					t.Fatalf("%d, close %v; want 413 and Connection: close", resp.StatusCode, resp.Close)
				}
			})
			t.Run("chunked", func(t *testing.T) {
				c, err := net.Dial("tcp", s.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				// Past the limit by one chunk, and the body never ends: the
				// answer must not wait for its end.
				w := bufio.NewWriter(c)
				fmt.Fprintf(w, "POST /digest HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
				chunk := strings.Repeat("x", 64<<10)
				for sent := 0; sent <= limit; sent += len(chunk) {
					fmt.Fprintf(w, "%x\r\n%s\r\n", len(chunk), chunk)
				}
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				resp := readHead(t, c)
				if resp.StatusCode != 413 || !resp.Close {
					t.Fatalf("%d, close %v; want 413 and Connection: close", resp.StatusCode, resp.Close)
				}
			})
			if len(s.find("error handling request")) > 0 {
				t.Error("the app's error over a cut body was logged as an app error")
			}
		})
	}
}

// streamedBodies counts the bodies s logged (at debug level) as streamed
// to the app.
func streamedBodies(s *server) int {
	return len(s.linesWhere(func(m string) bool { return strings.HasPrefix(m, "request body streams to the app") }))
}

// TestStreamedBodyCutByTheClient: a streamed body the client cuts gets
// the answer a body read ahead would: malformed framing the parser's
// 400 (the app's error over the cut body is not the answer), and a
// client that goes away mid-body nothing, with no error logged (the app
// sees ConnectionResetError in its read; Gunicorn ignores such resets).
func TestStreamedBodyCutByTheClient(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--body-memory-budget", "0", "--body-spill-budget", "0",
		"--access-logfile", "-", "--log-level", "debug", "bodies:app"}})
	c := dial(t, s.address())
	io.WriteString(c, "POST /digest?bad HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\nzz\r\n")
	if resp := readHead(t, c); resp.StatusCode != 400 || !resp.Close {
		t.Errorf("a malformed chunk: %d, close %v; want 400 and Connection: close", resp.StatusCode, resp.Close)
	}
	c = dial(t, s.address())
	io.WriteString(c, "POST /digest?gone HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n"+strings.Repeat("g", 100<<10))
	s.waitFor(func() bool { return streamedBodies(s) >= 2 })
	c.Close()
	s.waitFor(func() bool { return strings.Contains(s.output(), `"POST /digest?gone HTTP/1.1" 499 0`) })
	if errs := s.find("error handling request"); len(errs) > 0 {
		t.Errorf("a client that left mid-body was logged as an app error: %v", errs)
	}
}

// TestSlowUploadIsNotAStuckWorker: a streamed body that a client sends
// slowly, for longer than --timeout, to an app that reads it: each piece
// restarts the liveness clock, as each step of a streamed response does,
// so the worker is not killed (with the other requests it serves) and
// the upload completes. It was killed at --timeout.
func TestSlowUploadIsNotAStuckWorker(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--timeout", "2", "--body-memory-budget", "0", "--body-spill-budget", "0", "bodies:app"}})
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /digest HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
	piece := strings.Repeat("u", 1000)
	h := sha256.New()
	for range 12 { // 12 pieces 400 ms apart: 4.8 s, over --timeout
		fmt.Fprintf(c, "%x\r\n%s\r\n", len(piece), piece)
		h.Write([]byte(piece))
		time.Sleep(400 * time.Millisecond) // the slow client under test, not a synchronisation
	}
	io.WriteString(c, "0\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	b, err := io.ReadAll(c)
	want := fmt.Sprintf("%x %d stream", h.Sum(nil), 12*len(piece))
	if err != nil || !strings.HasSuffix(string(b), want) {
		t.Fatalf("the slow upload: %q, %v; want a body ending %q", b, err, want)
	}
	if len(s.find("worker timeout")) > 0 {
		t.Fatal("the worker was killed as stuck while its client uploaded")
	}
}

// TestStreamedBodyAndRequestTimeout: an app waiting in wsgi.input for
// streamed body bytes that do not come waits in read(2) without the GIL
// (another request of the worker is answered meanwhile), and
// --request-timeout still ends it: 504, long before --body-timeout.
func TestStreamedBodyAndRequestTimeout(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--threads", "2", "--request-timeout", "1", "--body-timeout", "120",
		"--body-memory-budget", "0", "--body-spill-budget", "0", "bodies:app"}})
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	arrived := t.TempDir()
	fmt.Fprintf(c, "POST /digest?arrived=%s HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n%s", arrived, strings.Repeat("x", 1000))
	s.waitFor(func() bool {
		ents, _ := os.ReadDir(arrived)
		return len(ents) == 1
	})
	if code, body := s.get("/hello"); code != 200 || body != "hello" {
		t.Fatalf("another request while an app waits for its body: %d %q", code, body)
	}
	resp := readHead(t, c)
	if resp.StatusCode != 504 || !resp.Close {
		t.Fatalf("%d, close %v; want 504 after --request-timeout, and Connection: close", resp.StatusCode, resp.Close)
	}
}

// TestWorkerReadingAStreamLeavesConnectionsToSibling: a worker whose only
// Python thread waits in wsgi.input for a streamed body counts it as
// taken, so it leaves new connections to its sibling, as a worker whose
// thread is busy in the app does.
func TestWorkerReadingAStreamLeavesConnectionsToSibling(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "2", "--body-memory-budget", "0", "--body-spill-budget", "0",
		"bodies:app"}, ready: 2})
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Half a body, then nothing: the app waits in read(2) for the rest.
	arrived := t.TempDir()
	fmt.Fprintf(c, "POST /digest?arrived=%s HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n%s",
		arrived, strings.Repeat("u", 50000))
	var streaming string
	s.waitFor(func() bool {
		ents, _ := os.ReadDir(arrived)
		if len(ents) == 1 {
			streaming, _, _ = strings.Cut(ents[0].Name(), "-")
		}
		return streaming != ""
	})
	for i := range 30 {
		code, worker, err := getWorkerTimeout(s.url("/hello"), 2*time.Second)
		if err != nil || code != 200 {
			t.Fatalf("request %d while a worker's thread waits for a streamed body: %d %v", i, code, err)
		}
		if worker == streaming {
			t.Fatalf("request %d was answered by the worker reading the stream, %s", i, worker)
		}
	}
}

// TestUwsgiBodiesWithinTheBudgets: a --protocol uwsgi body goes the way
// an HTTP one does: read ahead within the budgets (it used to be read
// into memory whole, however large), streamed past them, and the app
// reads every byte.
func TestUwsgiBodiesWithinTheBudgets(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--protocol", "uwsgi", "--body-memory-budget", "0",
		"--body-spill-budget", strconv.Itoa(1 << 20), "bodies:app"}})
	for _, tt := range []struct {
		size int
		want string
	}{{size: 512 << 10, want: "file"}, {size: 4 << 20, want: "stream"}} {
		body := make([]byte, tt.size)
		rand.NewChaCha8([32]byte{9}).Read(body)
		sum := sha256.Sum256(body)
		packet := uwsgiPacket(0, "REQUEST_METHOD", "POST", "PATH_INFO", "/digest", "QUERY_STRING", "",
			"CONTENT_LENGTH", strconv.Itoa(tt.size), "SERVER_PROTOCOL", "HTTP/1.1", "REMOTE_ADDR", "127.0.0.1")
		status, answer := uwsgiRequest(t, "tcp", s.addr, append(packet, body...))
		want := fmt.Sprintf("%s %d %s", hex.EncodeToString(sum[:]), tt.size, tt.want)
		if status != 200 || answer != want {
			t.Errorf("%d bytes over uwsgi: %d %q; want 200 %q", tt.size, status, answer, want)
		}
	}
}
