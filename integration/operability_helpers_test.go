package integration

import (
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Helpers of operability_test.go: the admin listener, metric values,
// an operability server, free addresses.

// adminURL is the admin listener's base URL, from its log line.
func (s *server) adminURL() string {
	s.t.Helper()
	var addr string
	s.waitFor(func() bool {
		if ls := s.find("admin listening"); len(ls) > 0 {
			addr = ls[0].str("address")
		}
		return addr != ""
	})
	return "http://" + addr
}

// adminGet fetches an admin path; the admin listener never keeps a
// test waiting on Python.
func adminGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// metricValue sums the samples of name whose labels contain every
// "key=\"value\"" in match.
func metricValue(body, name string, match ...string) float64 {
	sum := 0.0
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		series, val, ok := strings.Cut(line, " ")
		if !ok || (series != name && !strings.HasPrefix(series, name+"{")) {
			continue
		}
		all := true
		for _, m := range match {
			all = all && strings.Contains(series, m)
		}
		if f, err := strconv.ParseFloat(val, 64); all && err == nil {
			sum += f
		}
	}
	return sum
}

// opsServer starts operability.py's app (or the app spec that ends
// args) with an admin listener.
func opsServer(t *testing.T, ready int, args ...string) (*server, string) {
	t.Helper()
	if len(args) == 0 || !strings.HasPrefix(args[len(args)-1], "operability:") {
		args = append(args, "operability:app")
	}
	s := start(t, serverOpts{args: append([]string{"--admin-bind", "127.0.0.1:0", "--log-format", "json"},
		args...), ready: ready})
	return s, s.adminURL()
}

// lines_ is every parsed log line so far.
func (s *server) lines_() []logLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]logLine(nil), s.lines...)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// unusedAddr is a loopback address no one listens on right now, for
// Prometheus, which cannot report the port it got for :0.
func unusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// tryGet is a GET for goroutines other than the test's: 0 on a
// transport error instead of failing the test from there.
func tryGet(u string) int {
	resp, err := client.Get(u)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
