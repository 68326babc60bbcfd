package integration

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// statsdServer is a StatsD server in the test process: it keeps every
// line it receives with the address of the socket that sent it, so a
// test can tell the master's lines from a worker's.
type statsdServer struct {
	pc    net.PacketConn
	mu    sync.Mutex
	lines []statsdLine // guarded by mu
}

type statsdLine struct {
	from string // the sender's address: one per process
	text string
}

func listenStatsd(t *testing.T, network, addr string) *statsdServer {
	t.Helper()
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &statsdServer{pc: pc}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			sender := "?"
			if from != nil {
				sender = from.String()
			}
			s.mu.Lock()
			for _, l := range strings.Split(string(buf[:n]), "\n") {
				s.lines = append(s.lines, statsdLine{from: sender, text: l})
			}
			s.mu.Unlock()
		}
	}()
	return s
}

// snapshot returns the lines received so far.
func (s *statsdServer) snapshot() []statsdLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]statsdLine(nil), s.lines...)
}

// count sums the values of the counter lines named name (after the
// prefix), from any sender when from is "".
func (s *statsdServer) count(name, from string) int {
	n := 0
	for _, l := range s.snapshot() {
		metric, value, _ := strings.Cut(l.text, ":")
		if metric == name && (from == "" || l.from == from) && strings.Contains(value, "|c|") {
			v, _ := strconv.Atoi(value[:strings.IndexByte(value, '|')])
			n += v
		}
	}
	return n
}

// has reports whether text arrived from the sender from.
func (s *statsdServer) has(text, from string) bool {
	for _, l := range s.snapshot() {
		if l.text == text && l.from == from {
			return true
		}
	}
	return false
}

// lastGauge returns the value and sender of the last gauge named name,
// or -1.
func (s *statsdServer) lastGauge(name string) (int, string) {
	v, from := -1, ""
	for _, l := range s.snapshot() {
		metric, value, _ := strings.Cut(l.text, ":")
		if metric == name && strings.Contains(value, "|g") {
			v, _ = strconv.Atoi(value[:strings.IndexByte(value, '|')])
			from = l.from
		}
	}
	return v, from
}

// gunicornLine is a line as Gunicorn's Statsd logger writes it, with
// the test's prefix and tags: a counter with its sampling rate (its
// value summed over a flush, where Gunicorn sends lines of 1), a timer
// in milliseconds (or the backlog, an integer "histogram") or a gauge.
var gunicornLine = regexp.MustCompile(`^myapp\.gunicorn\.[a-z0-9.]+:([0-9]+\|c\|@1\.0|[0-9]+(\.[0-9]+)?\|ms|[0-9]+\|g)\|#env:test,app:web$`)

// TestStatsd serves requests with --statsd-host pointing at a UDP
// socket of the test, and checks the metrics the master and the
// workers send against the requests made.
func TestStatsd(t *testing.T) {
	sd := listenStatsd(t, "udp", "127.0.0.1:0")
	s := start(t, serverOpts{ready: 2, args: []string{"-w", "2", "--statsd-host", sd.pc.LocalAddr().String(),
		"--statsd-prefix", "myapp", "--dogstatsd-tags", "env:test,app:web", "--enable-backlog-metric", "statsdapp:app"}})

	// The master sends the workers gauge once the workers start.
	s.waitFor(func() bool { n, _ := sd.lastGauge("myapp.gunicorn.workers"); return n == 2 })
	_, master := sd.lastGauge("myapp.gunicorn.workers")
	// --enable-backlog-metric: the master's listen queue, every second.
	s.waitFor(func() bool { return sd.has("myapp.gunicorn.backlog:0|ms|#env:test,app:web", master) })

	want := map[int]int{200: 10, 404: 3, 503: 2, 500: 1}
	for range want[200] {
		if code, _ := s.get("/"); code != 200 {
			t.Fatalf("GET / = %d", code)
		}
	}
	for _, code := range []int{404, 404, 404, 503, 503} {
		if got, _ := s.get(fmt.Sprintf("/status/%d", code)); got != code {
			t.Fatalf("GET /status/%d = %d", code, got)
		}
	}
	if code, _ := s.get("/boom"); code != 500 {
		t.Fatalf("GET /boom = %d; want 500", code)
	}
	total := 16
	s.waitFor(func() bool {
		return sd.count("myapp.gunicorn.requests", "") >= total && sd.count("myapp.gunicorn.log.exception", "") >= 1
	})
	if n := sd.count("myapp.gunicorn.requests", ""); n != total {
		t.Errorf("gunicorn.requests = %d; want %d", n, total)
	}
	for code, n := range want {
		if got := sd.count(fmt.Sprintf("myapp.gunicorn.request.status.%d", code), ""); got != n {
			t.Errorf("gunicorn.request.status.%d = %d; want %d", code, got, n)
		}
	}
	durations := 0
	for _, l := range sd.snapshot() {
		if !gunicornLine.MatchString(l.text) {
			t.Errorf("line %q is not in Gunicorn's format", l.text)
		}
		if strings.HasPrefix(l.text, "myapp.gunicorn.request.duration:") {
			durations++
			if l.from == master {
				t.Errorf("the master sent a request metric: %q", l.text)
			}
		}
	}
	if durations != total {
		t.Errorf("%d gunicorn.request.duration lines; want %d", durations, total)
	}
	// The app's exception is the worker's: one log.exception, no log.error.
	if n := sd.count("myapp.gunicorn.log.exception", ""); n != 1 {
		t.Errorf("gunicorn.log.exception = %d; want 1", n)
	}
	if n := sd.count("myapp.gunicorn.log.error", ""); n != 0 {
		t.Errorf("gunicorn.log.error = %d; want 0", n)
	}

	// A worker killed: the master logs an error ("worker exited", perhaps
	// the OOM killer), counts it, and the gauge follows the workers back
	// to 2.
	errors := sd.count("myapp.gunicorn.log.error", master)
	pids := s.workerPIDs()
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.waitFor(func() bool { return sd.count("myapp.gunicorn.log.error", master) > errors })
	s.waitFor(func() bool { return len(s.workerPIDs()) == 2 })
	s.waitFor(func() bool { n, _ := sd.lastGauge("myapp.gunicorn.workers"); return n == 2 })

	// TTIN: one worker more, and the gauge says so.
	s.signal(syscall.SIGTTIN)
	s.waitFor(func() bool { n, from := sd.lastGauge("myapp.gunicorn.workers"); return n == 3 && from == master })
}

// TestStatsdUnixSocket sends to a unix datagram socket, as a DogStatsD
// agent takes them (--statsd-host unix:PATH), without prefix or tags,
// from a worker the zygote forked (--preload).
func TestStatsdUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dsd.sock")
	sd := listenStatsd(t, "unixgram", path)
	s := start(t, serverOpts{args: []string{"--preload", "--statsd-host", "unix://" + path, "statsdapp:app"}})
	for range 3 {
		if code, _ := s.get("/status/201"); code != 201 {
			t.Fatalf("GET /status/201 = %d", code)
		}
	}
	s.waitFor(func() bool { return sd.count("gunicorn.requests", "") >= 3 })
	if n := sd.count("gunicorn.request.status.201", ""); n != 3 {
		t.Errorf("gunicorn.request.status.201 = %d; want 3", n)
	}
	s.waitFor(func() bool { n, _ := sd.lastGauge("gunicorn.workers"); return n == 1 })
}

// TestStatsdUnreachable: metrics for a socket nobody reads never hold up
// a request; the worker warns once and counts what it lost.
func TestStatsdUnreachable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.sock")
	s := start(t, serverOpts{args: []string{"--statsd-host", "unix:" + path, "statsdapp:app"}})
	for range 3 {
		if code, _ := s.get("/"); code != 200 {
			t.Fatalf("GET / = %d", code)
		}
	}
	s.waitFor(func() bool {
		return len(s.find("statsd: a datagram of metrics was lost; later losses are only counted")) >= 2
	})
	s.signal(syscall.SIGTERM)
	if code := s.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	lost := s.find("statsd: datagrams of metrics lost")
	if len(lost) != 2 {
		t.Fatalf("%d lines about lost datagrams; want one from the master and one from the worker", len(lost))
	}
}
