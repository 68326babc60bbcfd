package integration

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkBalance measures how evenly two workers share keep-alive
// load: c connections, each sending its next request as soon as the
// last is answered, for 3 s. It reports the busiest worker's share of
// the requests (50% is perfect), the fewest requests any client got (0
// means one starved), requests per second and the reconnections the
// server caused by closing keep-alive connections to rebalance them.
//
//	go test -run '^$' -bench Balance ./integration/
//
// GOWSGI_BALANCE_ADDR=HOST:PORT measures a server already running
// instead (its app must answer /hello with an X-Worker header, as
// testdata/apps/concurrency.py does); GOWSGI_BALANCE_ARGS adds flags
// to the one started here, and GOWSGI_BALANCE_APP names its app
// (concurrency:app; "-k asgi" with asgi_block:app measures ASGI).
func BenchmarkBalance(b *testing.B) {
	addr := os.Getenv("GOWSGI_BALANCE_ADDR")
	if addr == "" {
		addr = startForBench(b, append([]string{"-w", "2"}, strings.Fields(os.Getenv("GOWSGI_BALANCE_ARGS"))...))
	}
	for _, conns := range []int{8, 64} {
		b.Run(fmt.Sprintf("c=%d", conns), func(b *testing.B) {
			var r balance
			for range b.N {
				r = measureBalance(b, addr, conns, 0, 3*time.Second)
			}
			b.ReportMetric(r.busiestShare()*100, "busiest-worker-%")
			b.ReportMetric(float64(r.minPerConn), "min-conn-reqs")
			b.ReportMetric(float64(r.total)/r.elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(r.reconnects)/r.elapsed.Seconds(), "reconnects/s")
			b.Logf("c=%d: requests per worker %v, requests per client %d..%d, reconnections %d",
				conns, r.perWorker, r.minPerConn, r.maxPerConn, r.reconnects)
		})
	}
}

// balance is the outcome of one measureBalance run.
type balance struct {
	perWorker              map[string]int // X-Worker → requests answered
	total                  int
	minPerConn, maxPerConn int // requests per client
	reconnects             int // connections the server closed to rebalance
	elapsed                time.Duration
}

func (r balance) busiestShare() float64 {
	most := 0
	for _, n := range r.perWorker {
		most = max(most, n)
	}
	if r.total == 0 {
		return 0
	}
	return float64(most) / float64(r.total)
}

// measureBalance runs conns keep-alive clients against addr for settle
// and then d, and counts the answers of d.
func measureBalance(tb testing.TB, addr string, conns int, settle, d time.Duration) balance {
	tb.Helper()
	var mu sync.Mutex
	r := balance{perWorker: map[string]int{}, minPerConn: -1}
	var wg sync.WaitGroup
	begin := time.Now().Add(settle)
	deadline := begin.Add(d)
	errs := make(chan error, conns)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen, reconnects, err := keepAliveClient(addr, begin, deadline)
			if err != nil {
				errs <- err
			}
			mu.Lock()
			defer mu.Unlock()
			r.reconnects += reconnects
			n := 0
			for w, k := range seen {
				r.perWorker[w] += k
				n += k
			}
			r.total += n
			r.maxPerConn = max(r.maxPerConn, n)
			if r.minPerConn < 0 || n < r.minPerConn {
				r.minPerConn = n
			}
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(begin)
	close(errs)
	for err := range errs {
		tb.Fatalf("balance client: %v", err)
	}
	return r
}

var workerHeader = []byte("\r\nx-worker: ")

// keepAliveClient sends GET /hello until deadline, on one connection at
// a time (a new one when the server closes the last), and counts the
// answers after from by X-Worker. Its parser knows only what
// concurrency.py's hello sends: a Content-Length response.
func keepAliveClient(addr string, from, deadline time.Time) (seen map[string]int, reconnects int, err error) {
	seen = map[string]int{}
	req := []byte("GET /hello HTTP/1.1\r\nHost: bench\r\n\r\n")
	var head []byte
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return seen, reconnects, err
		}
		c.SetDeadline(deadline.Add(10 * time.Second))
		br := bufio.NewReaderSize(c, 4096)
		for keep := true; keep && time.Now().Before(deadline); {
			if _, err := c.Write(req); err != nil {
				c.Close()
				return seen, reconnects, err
			}
			head = head[:0]
			for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
				line, err := br.ReadSlice('\n')
				if err != nil {
					c.Close()
					return seen, reconnects, err
				}
				head = append(head, line...)
			}
			lower := bytes.ToLower(head)
			worker, length := headerValue(head, lower, workerHeader), headerValue(head, lower, []byte("\r\ncontent-length: "))
			n, err := strconv.Atoi(length)
			if err != nil || worker == "" {
				c.Close()
				return seen, reconnects, fmt.Errorf("unexpected response head %q", head)
			}
			if _, err := br.Discard(n); err != nil {
				c.Close()
				return seen, reconnects, err
			}
			if time.Now().After(from) {
				seen[worker]++
			}
			keep = !bytes.Contains(lower, []byte("\r\nconnection: close\r\n"))
		}
		c.Close()
		reconnects++
	}
	return seen, reconnects - 1, nil
}

func headerValue(head, lower, name []byte) string {
	i := bytes.Index(lower, name)
	if i < 0 {
		return ""
	}
	v := head[i+len(name):]
	return string(v[:bytes.IndexByte(v, '\r')])
}

// startForBench runs bin/gowsgi concurrency:app with args on a free
// port, waits until every worker answers, and stops it when b ends.
func startForBench(b *testing.B, args []string) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(binary, append(append([]string{"--chdir", appsDir, "-b", addr, "--log-level", "warning"},
		args...), cmp.Or(os.Getenv("GOWSGI_BALANCE_APP"), "concurrency:app"))...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	workers := 1
	if i := slices.Index(args, "-w"); i >= 0 {
		workers, _ = strconv.Atoi(args[i+1])
	}
	// Ready when fresh connections have reached every worker.
	seen := map[string]bool{}
	for deadline := time.Now().Add(20 * time.Second); len(seen) < workers; {
		if time.Now().After(deadline) {
			b.Fatalf("gowsgi at %s: only %d of %d workers answered", addr, len(seen), workers)
		}
		if code, w, err := getWorkerTimeout("http://"+addr+"/hello", time.Second); err == nil && code == 200 {
			seen[w] = true
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addr
}
