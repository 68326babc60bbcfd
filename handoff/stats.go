package handoff

import (
	"encoding/json"
	"strings"
	"time"
)

// Stats is a worker's report of what it served, sent on ControlFD as
// one line every StatsInterval: the word "stats" and a JSON object.
// Counters and histograms are totals since the worker started, so a
// lost or late line costs freshness, never correctness; the master adds
// the last report of each worker that exited to its running totals.
//
//	stats {"req":{"GET 2xx":12},"dur":{"n":[...],"sum":0.04},...}
type Stats struct {
	// Requests counts responses by method and status class, keyed
	// "METHOD Nxx" (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or
	// OTHER; 1xx..5xx, or "0xx" for a request that got no response).
	Requests map[string]uint64 `json:"req,omitempty"`
	// Duration is the time from a request's environ being built to its
	// last response byte; Queue, the part spent waiting for a Python
	// thread. Their buckets are DurationBuckets.
	Duration Histogram `json:"dur"`
	Queue    Histogram `json:"queue"`

	InFlight    int    `json:"inflight"` // requests between environ and last byte
	BusyThreads int    `json:"busy"`     // Python threads running an app call
	Threads     int    `json:"threads"`  // --threads
	Conns       int    `json:"conns"`    // open client connections
	BytesIn     uint64 `json:"bytes_in"` // request body bytes
	BytesOut    uint64 `json:"bytes_out"`
	Timeouts    uint64 `json:"timeouts"` // requests stopped by --request-timeout
	Panics      uint64 `json:"panics"`   // connections whose goroutine panicked (contained)
	Served      uint64 `json:"served"`   // requests answered
	// Loop says the worker runs an event loop (ASGI); LoopLagMs is how
	// long it has left an event untaken, 0 while it keeps up.
	Loop      bool  `json:"loop,omitempty"`
	LoopLagMs int64 `json:"loop_lag_ms,omitempty"`
	// ConnsClosed counts the connections a worker closed early, by
	// reason (ConnCloseReasons); reasons never seen are left out.
	ConnsClosed map[string]uint64 `json:"conns_closed,omitempty"`

	// Calls describes the busy Python threads, oldest first; at most
	// what fits in MaxStatsLine.
	Calls []Call `json:"calls,omitempty"`
}

// The reasons in Stats.ConnsClosed: evicted to make room for new
// connections (one that never sent a byte, one stalled mid-head, one
// idle in keep-alive), or timed out before its first byte or while its
// head came too slowly.
const (
	ClosedEvictedFresh = "evicted_fresh"
	ClosedEvictedHead  = "evicted_head"
	ClosedEvictedIdle  = "evicted_idle"
	ClosedFirstByte    = "first_byte_timeout"
	ClosedSlowHead     = "slow_head"
)

// ConnCloseReasons lists them, for /metrics to show each from zero.
var ConnCloseReasons = []string{ClosedEvictedFresh, ClosedEvictedHead, ClosedEvictedIdle, ClosedFirstByte, ClosedSlowHead}

// Histogram counts observations per bucket: Counts[i] is how many were
// at most DurationBuckets[i] and above the bucket before; the last
// count is those above every bound. Not cumulative on the wire.
type Histogram struct {
	Counts []uint64 `json:"n"`
	Sum    float64  `json:"sum"` // seconds
}

// Call is one Python thread busy with a request.
type Call struct {
	Thread    int    `json:"thread"` // 0-based slot number in the worker
	Method    string `json:"method"`
	Path      string `json:"path"`
	Client    string `json:"client,omitempty"`
	RequestID string `json:"id,omitempty"`
	AgeMs     int64  `json:"age_ms"`
}

// DurationBuckets are the upper bounds, in seconds, of the request
// duration and queue histograms: 1 ms to 60 s, dense where web
// latencies usually fall.
var DurationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

const (
	statsWord = "stats"
	// MaxStatsLine keeps a stats line within PIPE_BUF, so a write of it
	// is atomic and never interleaves with another control line.
	MaxStatsLine = 4096
	// StatsInterval is how often a worker sends its Stats.
	StatsInterval = 250 * time.Millisecond
)

// Line encodes s without the newline, dropping busy calls from the end
// until it fits in MaxStatsLine (with its newline).
func (s *Stats) Line() string {
	for {
		b, err := json.Marshal(s)
		if err != nil {
			return statsWord + " {}"
		}
		if len(b)+len(statsWord)+2 <= MaxStatsLine || len(s.Calls) == 0 {
			return statsWord + " " + string(b)
		}
		s.Calls = s.Calls[:len(s.Calls)/2]
	}
}

// ParseStats decodes a line written by Stats.Line; ok is false when line
// is not a stats line.
func ParseStats(line string) (s *Stats, ok bool) {
	rest, found := strings.CutPrefix(line, statsWord+" ")
	if !found {
		return nil, false
	}
	s = new(Stats)
	if json.Unmarshal([]byte(rest), s) != nil {
		return nil, false
	}
	return s, true
}
