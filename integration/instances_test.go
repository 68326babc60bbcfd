package integration

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestRollingRestartBehindNginx runs two gowsgi masters behind one nginx
// upstream (examples/nginx/gowsgi-instances.conf) and restarts each in
// turn, TERM then start again on the same address, while clients keep
// sending requests: not one may fail.
func TestRollingRestartBehindNginx(t *testing.T) {
	args := []string{"--workers", "2", "--graceful-timeout", "10", "deploy:app"}
	instances := []*server{
		start(t, serverOpts{args: args, ready: 2}),
		start(t, serverOpts{args: args, ready: 2}),
	}
	addrs := []string{instances[0].addr, instances[1].addr}
	n := startNginx(t, renderExample(t, "examples/nginx/gowsgi-instances.conf", map[string]string{
		"server 127.0.0.1:8000": "server " + addrs[0],
		"server 127.0.0.1:8002": "server " + addrs[1],
	}))

	load := startRollingLoad(n.url("/slow?seconds=0.02"), 4)
	defer load.stop()
	for i := range instances {
		load.waitServedBy(t, instances[i])
	}
	for i, old := range instances {
		old.signal(syscall.SIGTERM)
		if code := old.wait(30 * time.Second); code != 0 {
			t.Fatalf("instance %d exited with %d on TERM", i, code)
		}
		// Stay down for a while, as a deploy does: nginx must meet the
		// closed port and move those requests to the other instance.
		load.waitRequests(t, 40)
		instances[i] = start(t, serverOpts{args: append([]string{"-b", addrs[i]}, args...), ready: 2})
		load.waitServedBy(t, instances[i])
	}
	load.stop()
	if load.failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during the rolling restart; first: %v",
			load.failed.Load(), load.total.Load(), load.firstErr())
	}
	t.Logf("%d requests, none failed", load.total.Load())
}

// rollingLoad sends GETs from several clients in a loop until stopped,
// counting failures and remembering which worker answered.
type rollingLoad struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	total  atomic.Int64
	failed atomic.Int64

	mu   sync.Mutex
	err  error        // the first failure
	pids map[int]bool // worker pids that answered
}

func startRollingLoad(url string, clients int) *rollingLoad {
	ctx, cancel := context.WithCancel(context.Background())
	l := &rollingLoad{cancel: cancel, pids: map[int]bool{}}
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
			for ctx.Err() == nil {
				l.one(c, url)
			}
		}()
	}
	return l
}

// one sends a request; stop lets it finish, so every request counts.
func (l *rollingLoad) one(c *http.Client, url string) {
	resp, err := c.Get(url)
	if err == nil {
		var body []byte
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = &loadStatusError{resp.StatusCode, string(body)}
		}
		if err == nil {
			pid, _ := strconv.Atoi(string(body))
			l.mu.Lock()
			l.pids[pid] = true
			l.mu.Unlock()
		}
	}
	l.total.Add(1)
	if err != nil {
		l.failed.Add(1)
		l.mu.Lock()
		if l.err == nil {
			l.err = err
		}
		l.mu.Unlock()
	}
}

// stop ends the load and waits for the clients' last requests.
func (l *rollingLoad) stop() {
	l.cancel()
	l.wg.Wait()
}

func (l *rollingLoad) firstErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// waitRequests waits until n more requests have completed.
func (l *rollingLoad) waitRequests(t *testing.T, n int64) {
	t.Helper()
	want := l.total.Load() + n
	if pollFor(20*time.Second, func() bool { return l.total.Load() >= want }) != nil {
		t.Fatalf("the load stalled at %d requests", l.total.Load())
	}
}

// waitServedBy waits until a worker of s has answered a request.
func (l *rollingLoad) waitServedBy(t *testing.T, s *server) {
	t.Helper()
	err := pollFor(15*time.Second, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, pid := range s.workerPIDs() {
			if l.pids[pid] {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("no request reached the instance on %s", s.addr)
	}
}

type loadStatusError struct {
	code int
	body string
}

func (e *loadStatusError) Error() string { return "status " + strconv.Itoa(e.code) + ": " + e.body }
