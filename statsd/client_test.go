package statsd

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// listenUDP is a StatsD server for one test: a UDP socket on loopback.
func listenUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// readLines reads datagrams until n lines arrived, or fails after 10 s.
// It returns the lines and how many datagrams carried them.
func readLines(t *testing.T, pc net.PacketConn, n int) (lines []string, datagrams int) {
	t.Helper()
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 65536)
	for len(lines) < n {
		k, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after %d of %d lines (%q): %v", len(lines), n, lines, err)
		}
		datagrams++
		lines = append(lines, strings.Split(string(buf[:k]), "\n")...)
	}
	return lines, datagrams
}

func newClient(t *testing.T, addr, prefix, tags string) *Client {
	t.Helper()
	c, err := New(addr, prefix, tags)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestWireFormat checks each line against what Gunicorn sends for the
// same event (gunicorn/instrument/statsd.py).
func TestWireFormat(t *testing.T) {
	tests := []struct {
		name, prefix, tags string
		send               func(*Client)
		want               []string
	}{
		{name: "request", send: func(c *Client) { c.Request(200, 12345*time.Microsecond) },
			want: []string{"gunicorn.request.duration:12.345|ms", "gunicorn.requests:1|c|@1.0", "gunicorn.request.status.200:1|c|@1.0"}},
		{name: "request with prefix and tags", prefix: "service.app", tags: "env:prod,canary",
			send: func(c *Client) { c.Request(404, 2*time.Millisecond) },
			want: []string{"service.app.gunicorn.request.duration:2.0|ms|#env:prod,canary",
				"service.app.gunicorn.requests:1|c|@1.0|#env:prod,canary",
				"service.app.gunicorn.request.status.404:1|c|@1.0|#env:prod,canary"}},
		{name: "request without response", send: func(c *Client) { c.Request(0, 7*time.Microsecond) },
			want: []string{"gunicorn.request.duration:0.007|ms", "gunicorn.requests:1|c|@1.0"}},
		{name: "gauge", prefix: "web.", send: func(c *Client) { c.Gauge(Workers, 4) },
			want: []string{"web.gunicorn.workers:4|g"}},
		{name: "gauge with tags", tags: "pod:web-1", send: func(c *Client) { c.Gauge(Workers, 0) },
			want: []string{"gunicorn.workers:0|g|#pod:web-1"}},
		{name: "histogram", prefix: "web", send: func(c *Client) { c.Histogram(Backlog, 7) },
			want: []string{"web.gunicorn.backlog:7|ms"}},
		{name: "log counter", prefix: "x", send: func(c *Client) { c.Incr(LogError) },
			want: []string{"xgunicorn.log.error:1|c|@1.0"}}, // Gunicorn's one-character prefix
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc := listenUDP(t)
			c := newClient(t, pc.LocalAddr().String(), tt.prefix, tt.tags)
			tt.send(c)
			got, _ := readLines(t, pc, len(tt.want))
			if !slices.Equal(got, tt.want) {
				t.Errorf("lines\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestAppendMillis(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0.0", time.Microsecond: "0.001", 10 * time.Microsecond: "0.01", 1500 * time.Microsecond: "1.5",
		2 * time.Millisecond: "2.0", 1234567 * time.Microsecond: "1234.567", 999 * time.Nanosecond: "0.0",
		100*time.Millisecond + 20*time.Microsecond: "100.02", -time.Second: "0.0",
	} {
		if got := string(appendMillis(nil, d)); got != want {
			t.Errorf("appendMillis(%v) = %q; want %q", d, got, want)
		}
	}
}

// TestBatching: lines share datagrams up to the packet size, a line is
// never split, counters are summed, and the last datagram goes out on
// the flush timer.
func TestBatching(t *testing.T) {
	pc := listenUDP(t)
	c := newClient(t, pc.LocalAddr().String(), "", "")
	const n = 100
	for range n {
		c.Request(200, time.Millisecond)
	}
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 65536)
	durations, requests, oks := 0, 0, 0
	datagrams, bytes := 0, 0
	for durations < n || requests < n || oks < n {
		k, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after %d durations, %d requests, %d 200s: %v", durations, requests, oks, err)
		}
		if k > udpPacket {
			t.Errorf("datagram of %d bytes; the limit is %d", k, udpPacket)
		}
		datagrams, bytes = datagrams+1, bytes+k
		for _, l := range strings.Split(string(buf[:k]), "\n") {
			var v int
			switch {
			case l == "gunicorn.request.duration:1.0|ms":
				durations++
			case scan(l, "gunicorn.requests:%d|c|@1.0", &v):
				requests += v
			case scan(l, "gunicorn.request.status.200:%d|c|@1.0", &v):
				oks += v
			default:
				t.Fatalf("unexpected line %q", l)
			}
		}
	}
	if durations != n || requests != n || oks != n || datagrams > bytes/(udpPacket-100)+1 {
		t.Errorf("%d durations, %d requests, %d 200s in %d datagrams", durations, requests, oks, datagrams)
	}
	c.Close() // waits for a send in progress, which counts after the reader got it
	if c.Sent() != uint64(datagrams) || c.Dropped() != 0 {
		t.Errorf("Sent() = %d, Dropped() = %d; want %d, 0", c.Sent(), c.Dropped(), datagrams)
	}
}

// scan reports whether line is format with one number, stored in v.
func scan(line, format string, v *int) bool {
	_, err := fmt.Sscanf(line, format, v)
	return err == nil && fmt.Sprintf(format, *v) == line
}

// TestCountersSummed: a window's counts of one counter make one line,
// in the order the counters were first counted, statuses last.
func TestCountersSummed(t *testing.T) {
	pc := listenUDP(t)
	c := newClient(t, pc.LocalAddr().String(), "p", "")
	c.mu.Lock()
	c.armed = true // no timer: Close flushes the whole window at once
	c.mu.Unlock()
	for range 5 {
		c.Incr(LogError)
	}
	c.Request(503, time.Millisecond)
	c.Request(200, 2*time.Millisecond)
	c.Incr(LogWarning)
	c.Request(503, 3*time.Millisecond)
	c.Close()
	got, datagrams := readLines(t, pc, 8)
	want := []string{"pgunicorn.request.duration:1.0|ms", "pgunicorn.request.duration:2.0|ms", "pgunicorn.request.duration:3.0|ms",
		"pgunicorn.log.error:5|c|@1.0", "pgunicorn.requests:3|c|@1.0", "pgunicorn.log.warning:1|c|@1.0",
		"pgunicorn.request.status.200:1|c|@1.0", "pgunicorn.request.status.503:2|c|@1.0"}
	if !slices.Equal(got, want) || datagrams != 1 {
		t.Errorf("%d datagrams of lines\n%q\nwant one of\n%q", datagrams, got, want)
	}
}

// TestUnixSocket sends to a unix datagram socket, as DogStatsD takes them.
func TestUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dsd.sock")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c := newClient(t, "unix://"+path, "app", "env:test")
	c.Incr(LogWarning)
	got, _ := readLines(t, pc, 1)
	if want := []string{"app.gunicorn.log.warning:1|c|@1.0|#env:test"}; !slices.Equal(got, want) {
		t.Errorf("lines %q; want %q", got, want)
	}
}

// TestNeverWaits fills a unix socket nobody reads: sends are refused at
// once (EAGAIN), counted as dropped, reported once, and the caller goes on.
func TestNeverWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "full.sock")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c := newClient(t, "unix:"+path, "", "")
	var mu sync.Mutex
	var failures []error
	c.OnFailure(func(err error) { mu.Lock(); failures = append(failures, err); mu.Unlock() })
	// The receive queue holds net.unix.max_dgram_qlen (10 by default)
	// datagrams, or fewer bytes than these: 2,000 full datagrams overflow it.
	for range 2000 * unixPacket / 200 {
		c.Request(200, time.Millisecond)
	}
	if c.Dropped() == 0 {
		t.Fatalf("Sent() = %d, Dropped() = 0: the receiver's queue never filled", c.Sent())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failures) != 1 || failures[0] != unix.EAGAIN {
		t.Errorf("failures reported: %v; want once EAGAIN", failures)
	}
}

// TestNoServerYet: with no socket file, lines are dropped and counted;
// once the server is there, the flush timer's redial reaches it.
func TestNoServerYet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.sock")
	c := newClient(t, "unix:"+path, "", "")
	var failed error
	done := make(chan struct{})
	c.OnFailure(func(err error) { failed = err; close(done) })
	c.Incr(LogError)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no failure reported")
	}
	if c.Dropped() != 1 || !strings.Contains(failed.Error(), "no such file") {
		t.Errorf("Dropped() = %d, failure %v; want 1, no such file", c.Dropped(), failed)
	}
}

func TestCloseFlushes(t *testing.T) {
	pc := listenUDP(t)
	c := newClient(t, pc.LocalAddr().String(), "", "")
	c.Gauge(Workers, 2)
	c.Close()
	c.Close()
	c.Gauge(Workers, 3) // after Close: dropped silently
	got, _ := readLines(t, pc, 1)
	if want := []string{"gunicorn.workers:2|g"}; !slices.Equal(got, want) {
		t.Errorf("lines %q; want %q", got, want)
	}
	if c.Sent() != 1 || c.Dropped() != 0 {
		t.Errorf("Sent() = %d, Dropped() = %d; want 1, 0", c.Sent(), c.Dropped())
	}
}

func TestNilClient(t *testing.T) {
	var c *Client
	c.Request(200, time.Second)
	c.Incr(LogError)
	c.Gauge(Workers, 1)
	c.OnFailure(func(error) {})
	if c.Close() != nil || c.Sent() != 0 || c.Dropped() != 0 {
		t.Error("a nil Client did something")
	}
	NewLogHook(nil).Run(nil, zerolog.ErrorLevel, "x")
}

// TestRequestAllocs: the request path allocates nothing.
func TestRequestAllocs(t *testing.T) {
	pc := listenUDP(t)
	c := newClient(t, pc.LocalAddr().String(), "app", "env:prod")
	if n := testing.AllocsPerRun(1000, func() { c.Request(200, 3*time.Millisecond) }); n != 0 {
		t.Errorf("Request allocates %v times per call; want 0", n)
	}
}

func TestLogHook(t *testing.T) {
	pc := listenUDP(t)
	c := newClient(t, pc.LocalAddr().String(), "", "")
	log := zerolog.New(zerolog.Nop()).Level(zerolog.InfoLevel).Hook(NewLogHook(c))
	log.Debug().Msg("not counted: below the level")
	log.Info().Msg("not counted")
	log.Warn().Msg("w")
	log.Error().Msg("e")
	log.Error().Msg("error handling request:\nTraceback (most recent call last):\n  File \"app.py\"\nValueError: x")
	log.WithLevel(zerolog.FatalLevel).Msg("WORKER TIMEOUT")
	got, _ := readLines(t, pc, 4)
	want := []string{"gunicorn.log.warning:1|c|@1.0", "gunicorn.log.error:1|c|@1.0",
		"gunicorn.log.exception:1|c|@1.0", "gunicorn.log.critical:1|c|@1.0"}
	if !slices.Equal(got, want) {
		t.Errorf("lines\n%q\nwant\n%q", got, want)
	}
}
