package handoff

import (
	"strings"
	"testing"
)

func TestStatsLineRoundTrip(t *testing.T) {
	s := &Stats{
		Requests: map[string]uint64{"GET 2xx": 12, "POST 5xx": 1},
		Duration: Histogram{Counts: make([]uint64, len(DurationBuckets)+1), Sum: 0.25},
		InFlight: 2, BusyThreads: 1, Threads: 4, Conns: 3, BytesIn: 10, BytesOut: 20, Timeouts: 1, Served: 13,
		Calls: []Call{{Thread: 1, Method: "GET", Path: "/slow", Client: "127.0.0.1:5000", RequestID: "abc", AgeMs: 1500}},
	}
	s.Duration.Counts[3] = 13
	line := s.Line()
	if !strings.HasPrefix(line, "stats {") || strings.Contains(line, "\n") {
		t.Fatalf("Line() = %q", line)
	}
	got, ok := ParseStats(line)
	if !ok {
		t.Fatalf("ParseStats(%q) failed", line)
	}
	if got.Requests["GET 2xx"] != 12 || got.Duration.Counts[3] != 13 || got.Calls[0].Path != "/slow" ||
		got.Calls[0].AgeMs != 1500 || got.Timeouts != 1 || got.Conns != 3 {
		t.Fatalf("round trip: got %+v", got)
	}
	if _, ok := ParseStats("alive 0"); ok {
		t.Fatal("a heartbeat parsed as stats")
	}
	if _, ok := ParseStats("stats {not json"); ok {
		t.Fatal("bad JSON parsed as stats")
	}
}

func TestStatsLineFitsPipeBuf(t *testing.T) {
	s := &Stats{}
	for i := range 200 {
		s.Calls = append(s.Calls, Call{Thread: i, Method: "GET", Path: "/" + strings.Repeat("x", 200)})
	}
	line := s.Line()
	if len(line)+1 > MaxStatsLine {
		t.Fatalf("line of %d bytes exceeds %d", len(line)+1, MaxStatsLine)
	}
	got, ok := ParseStats(line)
	if !ok || len(got.Calls) == 0 || len(got.Calls) >= 200 {
		t.Fatalf("got %d calls, ok=%v; want some but not all", len(got.Calls), ok)
	}
}
