package worker

import (
	"bufio"
	"os"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/engine"
	"github.com/rs/zerolog"
)

// fakeCalls stands for the engine's calls into the app: two slots.
type fakeCalls struct {
	since [2]time.Time // zero: idle
	what  [2][2]string // method, path
	begun uint64
}

func (f *fakeCalls) begin(i int, method, path string, now time.Time) {
	f.since[i], f.what[i] = now, [2]string{method, path}
	f.begun++
}

func (f *fakeCalls) OldestStuckCall(now time.Time) (engine.StuckCall, bool) {
	oldest := -1
	for i, t := range f.since {
		if !t.IsZero() && (oldest < 0 || t.Before(f.since[oldest])) {
			oldest = i
		}
	}
	if oldest < 0 {
		return engine.StuckCall{}, false
	}
	return engine.StuckCall{Age: now.Sub(f.since[oldest]), Method: f.what[oldest][0], Path: f.what[oldest][1]}, true
}

func (f *fakeCalls) CallsBegun() uint64 { return f.begun }

// lifecycleTest is a lifecycle over two fake call slots and no Python,
// writing its control lines to a pipe the test reads.
type lifecycleTest struct {
	t   *testing.T
	srv *fakeCalls
	lc  *lifecycle
	r   *os.File
	br  *bufio.Reader
}

func newLifecycleTest(t *testing.T, cfg *config.Config) *lifecycleTest {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	srv := new(fakeCalls)
	return &lifecycleTest{t: t, srv: srv, lc: newLifecycle(cfg, zerolog.Nop(), srv, w), r: r, br: bufio.NewReader(r)}
}

// line returns the next control line, or "" if none comes soon.
func (lt *lifecycleTest) line() string {
	lt.t.Helper()
	lt.r.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	s, err := lt.br.ReadString('\n')
	if err != nil {
		return ""
	}
	return s[:len(s)-1]
}

func TestHeartbeatReportsTheOldestCall(t *testing.T) {
	lt := newLifecycleTest(t, &config.Config{Timeout: 2 * time.Second})
	now := time.Now()
	lt.lc.tick(now)
	if got := lt.line(); got != "alive 0" {
		t.Fatalf("idle heartbeat %q; want %q", got, "alive 0")
	}
	lt.srv.begin(0, "POST", "/newer", now.Add(-time.Second))
	lt.srv.begin(1, "GET", "/older", now.Add(-3*time.Second))
	lt.lc.tick(now.Add(100 * time.Millisecond)) // too soon after the last one
	if got := lt.line(); got != "" {
		t.Fatalf("heartbeat %q sent before its interval", got)
	}
	lt.lc.tick(now.Add(500 * time.Millisecond))
	if got := lt.line(); got != "alive 3500 GET /older" {
		t.Fatalf("heartbeat %q; want the oldest call, %q", got, "alive 3500 GET /older")
	}
}

func TestRetireOnceAtMaxRequests(t *testing.T) {
	lt := newLifecycleTest(t, &config.Config{MaxRequests: 3})
	call := func() {
		lt.srv.begin(0, "GET", "/", time.Now())
		lt.srv.since[0] = time.Time{}
	}
	call()
	call()
	lt.lc.tick(time.Now())
	if got := lt.line(); got != "" {
		t.Fatalf("after 2 of 3 requests: %q", got)
	}
	call()
	lt.lc.tick(time.Now())
	if got := lt.line(); got != "retire" {
		t.Fatalf("after 3 of 3 requests: %q; want retire", got)
	}
	call()
	lt.lc.tick(time.Now())
	if got := lt.line(); got != "" {
		t.Fatalf("asked again: %q; want retire once", got)
	}
}

func TestMaxRequestsJitterStaysInRange(t *testing.T) {
	seen := map[uint64]bool{}
	for range 200 {
		lc := newLifecycle(&config.Config{MaxRequests: 10, MaxRequestsJitter: 5}, zerolog.Nop(), new(fakeCalls), nil)
		if lc.maxCalls < 10 || lc.maxCalls > 15 {
			t.Fatalf("max calls %d; want 10 to 15", lc.maxCalls)
		}
		seen[lc.maxCalls] = true
	}
	if len(seen) < 2 {
		t.Fatalf("every worker drew %v: the jitter does not spread restarts", seen)
	}
}

func TestNoTicksWithoutTimeoutOrMaxRequests(t *testing.T) {
	lc := newLifecycle(&config.Config{}, zerolog.Nop(), new(fakeCalls), nil)
	if lc.ticks != nil || lc.beatEvery != 0 || lc.maxCalls != 0 {
		t.Fatalf("lifecycle %+v; want no ticker, heartbeat or limit", lc)
	}
	lc = newLifecycle(&config.Config{Timeout: 30 * time.Second, MaxRequests: 1}, zerolog.Nop(), new(fakeCalls), nil)
	if lc.beatEvery != time.Second || lc.ticks == nil {
		t.Fatalf("heartbeat every %v; want 1s with a ticker", lc.beatEvery)
	}
}
