package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Tests of the worker's promise that a Python thread never waits on a
// network peer, of --threads, and of accept gating. Apps are in
// testdata/apps/concurrency.py.

// TestSlowClientsDoNotHoldPythonThreads runs 1000 idle keep-alive
// connections, 50 slowloris clients, 20 slow uploaders and 20 clients
// reading at 1 KiB/s against 2 workers of 2 threads each, and checks that
// normal requests keep being answered promptly.
func TestSlowClientsDoNotHoldPythonThreads(t *testing.T) {
	raiseNoFile(t, 8192)
	s := start(t, serverOpts{args: []string{"-w", "2", "--threads", "2", "--keep-alive", "60", "concurrency:app"}, ready: 2})
	stop := make(chan struct{})
	var clients sync.WaitGroup
	t.Cleanup(func() { close(stop); clients.Wait() })

	for range 200 { // warm the workers' pools before measuring memory
		if code, _ := getWorker(t, s.url("/hello")); code != 200 {
			t.Fatalf("warm-up request: %d", code)
		}
	}
	rssBefore := workersRSS(t, s)
	idle := openIdle(t, s.addr, 1000)
	rssAfter := workersRSS(t, s)
	perConn := float64(rssAfter-rssBefore) / float64(len(idle))
	t.Logf("memory per idle keep-alive connection: %.1f KiB (workers' RSS %d → %d KiB)",
		perConn/1024, rssBefore>>10, rssAfter>>10)
	if perConn > 64<<10 {
		t.Errorf("an idle connection costs %.1f KiB; want a few KiB", perConn/1024)
	}

	slowClients(t, s.addr, stop, &clients)

	// Normal traffic from 8 clients; every answer within 2 s.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				begin := time.Now()
				code, err := getWorkerErr(s.url("/hello"))
				if err == nil && code != 200 {
					err = fmt.Errorf("status %d", code)
				}
				if d := time.Since(begin); err == nil && d > 2*time.Second {
					err = fmt.Errorf("answered after %v", d)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("normal request under slow clients: %v", err)
	}
	// The idle connections are still served.
	for _, c := range idle[:20] {
		if err := c.roundTrip("/hello"); err != nil {
			t.Fatalf("idle keep-alive connection after the load: %v", err)
		}
	}
}

// slowClients starts 50 slowloris clients (a header byte per second), 20
// slow uploaders (1 KiB/s of a 1 MiB body) and 20 slow readers (1 KiB/s
// of a 1 MiB buffered response or a 64 MiB generated one), and returns
// once every one of them is under way.
func slowClients(t *testing.T, addr string, stop chan struct{}, wg *sync.WaitGroup) {
	t.Helper()
	started := make(chan error, 90)
	run := func(f func(c net.Conn) error, rcvbuf int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dialSmall(addr, rcvbuf)
			if err != nil {
				started <- err
				return
			}
			defer c.Close()
			f(c)
		}()
	}
	trickle := func(c net.Conn, head string, each []byte) error {
		if _, err := io.WriteString(c, head); err != nil {
			started <- err
			return err
		}
		started <- nil
		for {
			select {
			case <-stop:
				return nil
			case <-time.After(time.Second):
			}
			if _, err := c.Write(each); err != nil {
				return err
			}
		}
	}
	for range 50 {
		run(func(c net.Conn) error { return trickle(c, "G", []byte("E")) }, 0)
	}
	for range 20 {
		run(func(c net.Conn) error {
			return trickle(c, "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\n",
				[]byte(strings.Repeat("u", 1024)))
		}, 0)
	}
	for i := range 20 {
		path := "/big?size=1048576"
		if i%2 == 1 {
			path = "/big?gen=1&size=67108864"
		}
		run(func(c net.Conn) error {
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path)
			br := bufio.NewReaderSize(c, 1024)
			status, err := br.ReadString('\n')
			if err == nil && !strings.HasPrefix(status, "HTTP/1.1 200") {
				err = fmt.Errorf("slow reader got %q", status)
			}
			started <- err
			buf := make([]byte, 1024)
			for {
				select {
				case <-stop:
					return nil
				case <-time.After(time.Second):
				}
				if _, err := io.ReadFull(br, buf); err != nil {
					return err
				}
			}
		}, 4096)
	}
	timeout := time.After(10 * time.Second)
	for range 90 {
		select {
		case err := <-started:
			if err != nil {
				t.Fatalf("starting a slow client: %v", err)
			}
		case <-timeout:
			t.Fatal("the slow clients were not all under way after 10 s (readers wait for a response head)")
		}
	}
}

// TestStuckWorkerLeavesConnectionsToSibling: while one worker's only
// Python thread sleeps in a C call holding the GIL, that worker accepts
// nothing, and the other answers every request.
func TestStuckWorkerLeavesConnectionsToSibling(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "2", "concurrency:app"}, ready: 2})
	mark := filepath.Join(t.TempDir(), "stuck")
	go getWorkerErr(s.url("/stuck?seconds=5&mark=" + mark))
	stuckPID := waitForFile(t, mark)
	for i := range 30 {
		begin := time.Now()
		code, worker, err := getWorkerTimeout(s.url("/hello"), 2*time.Second)
		if err != nil || code != 200 {
			t.Fatalf("request %d while a worker is stuck: %d %v (after %v)", i, code, err, time.Since(begin))
		}
		if worker == stuckPID {
			t.Fatalf("request %d was answered by the stuck worker %s", i, worker)
		}
	}
}

// TestBusyWorkerTakesNewClients: a worker whose only Python thread is
// kept busy by keep-alive clients sending requests back to back still
// takes a client that connects meanwhile, and answers it in its turn. It
// used to take new connections only while it had room, which such
// clients never leave: the newcomer waited until they stopped.
func TestBusyWorkerTakesNewClients(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "1", "concurrency:app"}})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	var served atomic.Int64
	for range 3 {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			br := bufio.NewReader(c)
			for give := time.Now().Add(20 * time.Second); time.Now().Before(give); {
				select {
				case <-stop:
					return
				default:
				}
				fmt.Fprintf(c, "GET /nap?ms=30 HTTP/1.1\r\nHost: t\r\n\r\n")
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				served.Add(1)
			}
		}()
	}
	for busy := time.Now().Add(10 * time.Second); served.Load() < 6; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(busy) {
			t.Fatalf("the keep-alive clients got %d answers in 10 s; want 6 to begin", served.Load())
		}
	}
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
	before := served.Load()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the client that connected while the thread was busy: %v (the busy clients got %d answers meanwhile)",
			err, served.Load()-before)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the client that connected while the thread was busy: %d", resp.StatusCode)
	}
}

// TestThreadsRunInParallel: --threads 4 lets 4 requests run the app at
// once in one worker, and the app sees wsgi.multithread.
func TestThreadsRunInParallel(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--threads", "4", "concurrency:app"}})
	var wg sync.WaitGroup
	results := make(chan string, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body := do(t, http.MethodGet, s.url("/together?n=4"), "")
			results <- fmt.Sprintf("%d %s", code, body)
		}()
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r != "200 multithread=True" {
			t.Errorf("request with 4 threads: %q; want 200 and multithread=True (all 4 inside the app at once)", r)
		}
	}
}

func TestSyncWorkerIsSingleThreaded(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "sync", "concurrency:app"}})
	if code, body := s.get("/together?n=1"); code != 200 || body != "multithread=False" {
		t.Fatalf("-k sync: %d %q; want 200 multithread=False", code, body)
	}
}

// TestUploadsAreReadBeforeTheApp: bodies past --max-buffered-body reach
// the app from a file, chunked uploads get a real CONTENT_LENGTH.
func TestUploadsAreReadBeforeTheApp(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--max-buffered-body", "4096", "concurrency:app"}})
	payload := strings.Repeat("0123456789abcdef", 6250) // 100000 bytes
	tests := []struct {
		name    string
		body    string
		chunked bool
		want    string
	}{
		{name: "small, length", body: payload[:1000], want: "memory"},
		{name: "small, chunked", body: payload[:1000], chunked: true, want: "memory"},
		{name: "large, length", body: payload, want: "file"},
		{name: "large, chunked", body: payload, chunked: true, want: "file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				r = io.MultiReader(r) // no length known: the client sends it chunked
			}
			req, _ := http.NewRequest(http.MethodPost, s.url("/upload"), r)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			bsum := 0
			for _, b := range []byte(tt.body) {
				bsum += int(b)
			}
			want := fmt.Sprintf("%d %d %s %d", len(tt.body), len(tt.body), tt.want, bsum%251)
			if string(got) != want {
				t.Fatalf("upload: %q; want %q (CONTENT_LENGTH, bytes read, where, checksum)", got, want)
			}
		})
	}
}

// TestTimeoutsCloseConnections: a request head that never ends, an idle
// keep-alive connection and a client that stops reading are all closed.
func TestTimeoutsCloseConnections(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--threads", "1", "--header-timeout", "1", "--keep-alive", "1",
		"--write-timeout", "1", "--response-buffer", "65536", "concurrency:app"}})
	t.Run("header", func(t *testing.T) {
		c := dial(t, s.addr)
		io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: t\r\n")
		expectClosed(t, c, 5*time.Second)
	})
	t.Run("keep-alive", func(t *testing.T) {
		c := &idleConn{Conn: dial(t, s.addr)}
		c.br = bufio.NewReader(c)
		if err := c.roundTrip("/hello"); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, c, 5*time.Second)
	})
	t.Run("write", func(t *testing.T) {
		c, err := dialSmall(s.addr, 4096)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		mark := filepath.Join(t.TempDir(), "closed")
		fmt.Fprintf(c, "GET /big?gen=1&size=1073741824&mark=%s HTTP/1.1\r\nHost: t\r\n\r\n", mark)
		produced := waitForFile(t, mark) // the generator was closed: the server gave up
		// Backpressure: the app got no further than the socket buffers
		// (a few MiB at most on loopback) and the 64 KiB outbox.
		if n, _ := strconv.Atoi(produced); n <= 0 || n > 8<<20 {
			t.Fatalf("the app produced %s bytes for a client that read nothing; want at most 8 MiB", produced)
		}
		// And the Python thread is free again.
		if code, _, err := getWorkerTimeout(s.url("/hello"), 5*time.Second); err != nil || code != 200 {
			t.Fatalf("after the write timeout: %d %v", code, err)
		}
	})
}

// TestWorkerConnectionsBound: past --worker-connections a new connection
// is served all the same, and the oldest idle keep-alive connection is
// closed to make room for it (worker/room.go); the other one still
// serves.
func TestWorkerConnectionsBound(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--worker-connections", "2", "--keep-alive", "60", "concurrency:app"}})
	oldest := openIdle(t, s.addr, 1)[0]
	newer := openIdle(t, s.addr, 1)[0]
	third := &idleConn{Conn: dial(t, s.addr)}
	third.br = bufio.NewReader(third)
	if err := third.roundTrip("/hello"); err != nil {
		t.Fatalf("a third connection with --worker-connections 2: %v", err)
	}
	expectClosed(t, oldest, 5*time.Second)
	if err := newer.roundTrip("/hello"); err != nil {
		t.Fatalf("the newer idle connection: %v", err)
	}
}

// TestKeepAliveLoadIsShared: 8 keep-alive clients that connect at once
// end up served by both workers about equally, however the burst of
// connections first landed (a busy worker closes a keep-alive connection
// now and then, and the client's next one goes to the worker with room).
// The first second, while the burst is undone, is not counted.
func TestKeepAliveLoadIsShared(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "2", "concurrency:app"}, ready: 2})
	r := measureBalance(t, s.addr, 8, time.Second, 1500*time.Millisecond)
	t.Logf("requests per worker %v, per client %d..%d, reconnections %d", r.perWorker, r.minPerConn, r.maxPerConn, r.reconnects)
	if len(r.perWorker) != 2 || r.busiestShare() > 0.7 {
		t.Fatalf("requests per worker %v: the busiest has %.0f%%; want both workers near 50%%",
			r.perWorker, r.busiestShare()*100)
	}
	if r.minPerConn == 0 {
		t.Fatal("a client got no answer")
	}
}

// TestParkedResponseStaysOnItsThread: a generator whose response outgrows
// the buffer is parked while the client reads, and resumed on the thread
// it started on (threading.local and contextvars depend on it).
func TestParkedResponseStaysOnItsThread(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--threads", "4", "--response-buffer", "0", "concurrency:app"}})
	mark := filepath.Join(t.TempDir(), "threads")
	c, err := dialSmall(s.addr, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /threads?n=64&mark=%s HTTP/1.1\r\nHost: t\r\n\r\n", mark)
	// Read slowly at first, so the steps park, with other requests
	// taking the slots in between.
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 8 {
		io.CopyN(io.Discard, resp.Body, 64<<10)
		for range 4 {
			if code, _ := getWorker(t, s.url("/hello")); code != 200 {
				t.Fatalf("a request between the parked steps: %d", code)
			}
		}
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != 56*64<<10 {
		t.Fatalf("the rest of the response: %d bytes, %v; want %d", n, err, 56*64<<10)
	}
	if ids := strings.Fields(waitForFile(t, mark)); len(ids) != 1 {
		t.Fatalf("the generator ran on threads %v; want one", ids)
	}
}
