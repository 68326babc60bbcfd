package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Helpers of concurrency_test.go: idle keep-alive connections, slow
// dialers, per-worker requests, worker memory and file limits.

// idleConn is a keep-alive connection that has been answered once.
type idleConn struct {
	net.Conn
	br *bufio.Reader
	// closing: the last response said Connection: close (a worker with
	// more connections than threads sheds one now and then to rebalance),
	// so the server will not read another request from this connection.
	closing bool
}

func (c *idleConn) roundTrip(path string) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c.closing = resp.Close
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}

// openIdle opens n keep-alive connections, each answered once, closed at
// cleanup.
func openIdle(t *testing.T, addr string, n int) []*idleConn {
	t.Helper()
	conns := make([]*idleConn, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for w := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 20 {
				for attempt := 0; ; attempt++ {
					nc, err := net.Dial("tcp", addr)
					if err != nil {
						errs <- err
						return
					}
					c := &idleConn{Conn: nc, br: bufio.NewReaderSize(nc, 512)}
					if err := c.roundTrip("/hello"); err != nil {
						nc.Close()
						errs <- err
						return
					}
					if !c.closing {
						conns[i] = c
						break
					}
					nc.Close() // shed to rebalance: open another one
					if attempt == 10 {
						errs <- fmt.Errorf("10 connections in a row answered with Connection: close")
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	close(errs)
	for err := range errs {
		t.Fatalf("opening idle connections: %v", err)
	}
	return conns
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialSmall connects with a receive buffer of rcvbuf bytes (0: the
// default), so a client that reads slowly stalls the server quickly.
func dialSmall(addr string, rcvbuf int) (net.Conn, error) {
	d := net.Dialer{}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			return serr
		}
	}
	return d.Dial("tcp", addr)
}

// expectClosed reads until the server closes c, failing after timeout.
func expectClosed(t *testing.T, c net.Conn, timeout time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(timeout))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %v", timeout)
	}
}

var fastClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func getWorker(t *testing.T, url string) (int, string) {
	t.Helper()
	code, worker, err := getWorkerTimeout(url, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return code, worker
}

func getWorkerErr(url string) (int, error) {
	code, _, err := getWorkerTimeout(url, 20*time.Second)
	return code, err
}

// getWorkerTimeout does one GET on a new connection and returns the
// status and the X-Worker header (the pid that answered).
func getWorkerTimeout(url string, timeout time.Duration) (int, string, error) {
	c := *fastClient
	c.Timeout = timeout
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, "", err
	}
	return resp.StatusCode, resp.Header.Get("X-Worker"), nil
}

// waitForFile waits for a file an app writes (atomically) and returns
// its content.
func waitForFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// workersRSS is the resident memory of the live workers, in bytes.
func workersRSS(t *testing.T, s *server) int64 {
	t.Helper()
	var total int64
	for _, pid := range s.workerPIDs() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				total += kb << 10
			}
		}
	}
	return total
}

// raiseNoFile lifts the soft RLIMIT_NOFILE of the test (and of the
// servers it starts) to at least n, within the hard limit.
func raiseNoFile(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	lim.Cur = min(n, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < n {
		t.Skipf("RLIMIT_NOFILE is %d, the test needs %d", lim.Cur, n)
	}
}
