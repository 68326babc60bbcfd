package integration

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// load keeps requests flowing to a server from several clients, half on
// keep-alive connections and half on a new connection per request, a
// few hundred requests per second in all, and counts how they end. A
// refused connection (the server is stopped and says so) is counted
// apart from a failure (a reset, a truncated or non-200 response).
type load struct {
	t       *testing.T
	clients int
	stop    chan struct{}
	wg      sync.WaitGroup

	ok, refused, failed atomic.Int64

	mu       sync.Mutex
	failures []string // guarded by mu: the first few failures
	bodies   []string // guarded by mu: every 200 body, in order
}

// loadPace is each client's pause between requests.
const loadPace = 5 * time.Millisecond

func startLoad(t *testing.T, url string, clients int) *load {
	t.Helper()
	return startLoadTLS(t, url, clients, nil)
}

// startLoadTLS is startLoad for an https URL, the clients verifying the
// server with tc.
func startLoadTLS(t *testing.T, url string, clients int, tc *tls.Config) *load {
	t.Helper()
	l := &load{t: t, clients: clients, stop: make(chan struct{})}
	for i := range clients {
		c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			DisableKeepAlives:   i%2 == 1,
			MaxIdleConnsPerHost: 1,
			TLSClientConfig:     tc,
		}}
		l.wg.Add(1)
		go l.run(c, url)
	}
	t.Cleanup(l.halt)
	return l
}

func (l *load) run(c *http.Client, url string) {
	defer l.wg.Done()
	defer c.CloseIdleConnections()
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		l.one(c, url)
		time.Sleep(loadPace)
	}
}

func (l *load) one(c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			l.refused.Add(1)
			return
		}
		l.fail(err.Error())
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		l.fail("reading the body: " + err.Error())
	case resp.StatusCode != http.StatusOK:
		l.fail(fmt.Sprintf("status %d: %q", resp.StatusCode, body))
	default:
		l.ok.Add(1)
		l.mu.Lock()
		l.bodies = append(l.bodies, string(body))
		l.mu.Unlock()
	}
}

func (l *load) fail(msg string) {
	l.failed.Add(1)
	l.mu.Lock()
	if len(l.failures) < 10 {
		l.failures = append(l.failures, msg)
	}
	l.mu.Unlock()
}

// halt stops the clients and waits for their last requests.
func (l *load) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// waitOK waits until n more requests have succeeded than when called.
func (l *load) waitOK(n int64) {
	l.t.Helper()
	want := l.ok.Load() + n
	deadline := time.Now().Add(20 * time.Second)
	for l.ok.Load() < want {
		if time.Now().After(deadline) {
			l.t.Fatalf("load: %d requests succeeded, want %d; failures: %v", l.ok.Load(), want, l.firstFailures())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *load) firstFailures() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.failures...)
}

// bodiesSince returns the bodies of the successful requests after the
// first n.
func (l *load) bodiesSince(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.bodies[min(n, len(l.bodies)):]...)
}

// requireNoFailures stops the load and fails the test if any request
// failed; refusedOK says whether refused connections are acceptable.
func (l *load) requireNoFailures(refusedOK bool) {
	l.t.Helper()
	l.halt()
	l.t.Logf("load: %d ok, %d refused, %d failed", l.ok.Load(), l.refused.Load(), l.failed.Load())
	if n := l.failed.Load(); n > 0 {
		l.t.Errorf("%d requests failed; the first: %v", n, l.firstFailures())
	}
	if n := l.refused.Load(); n > 0 && !refusedOK {
		l.t.Errorf("%d connections were refused", n)
	}
	if l.ok.Load() == 0 {
		l.t.Errorf("no request succeeded")
	}
}

// eventually polls cond for up to 15s; unlike server.waitFor it does
// not mind the first master having exited.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logged returns the log lines whose message starts with prefix.
func (s *server) logged(prefix string) []logLine {
	return s.linesWhere(func(m string) bool { return strings.HasPrefix(m, prefix) })
}

// readPidfile returns the pid in path, or 0.
func readPidfile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	return pid
}
