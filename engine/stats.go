package engine

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gowsgi/gowsgi/handoff"
)

// stats counts what the engine serves, for the master's /metrics and
// /status (the worker reports Collect's snapshot on its control pipe).
// Counters are atomics written by the connection goroutines and read by
// the reporter. A nil *stats (unit tests) counts nothing.
type stats struct {
	srv *Server

	requests [len(methodNames)][6]atomic.Uint64 // by method, status class (0 = none)
	duration atomicHistogram
	queue    atomicHistogram
	inFlight atomic.Int64
	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64
	served   atomic.Uint64
	timeouts atomic.Uint64
	panics   atomic.Uint64 // connections whose goroutine panicked: containPanic
	slots    []slotExtra   // by slot number

	// timedOut holds the *conn of each request --request-timeout
	// stopped, until it is answered (504) or done.
	timedOut sync.Map
	retiring atomic.Bool // asked the master to replace this worker
}

// slotExtra is what /status and the request timeout need of a slot
// beyond its callState: who the request is for, and the Caller it runs
// with.
type slotExtra struct {
	mu        sync.Mutex
	owner     *conn     // guarded by mu: the request's connection
	x         *exchange // guarded by mu: the exchange the request runs in
	client    string    // guarded by mu
	requestID []byte    // guarded by mu; storage reused
	// firedFor is the callState.since of the call a timeout was raised
	// in, so one call is interrupted once.
	firedFor atomic.Int64
}

// methodNames are the methods counted by name; others count as OTHER,
// so a client cannot make the master's label set grow.
var methodNames = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"}

var statusClasses = [6]string{"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"}

func methodIndex(m []byte) int {
	for i, name := range methodNames[:len(methodNames)-1] {
		if string(m) == name {
			return i
		}
	}
	return len(methodNames) - 1
}

type atomicHistogram struct {
	counts [16]atomic.Uint64 // len(handoff.DurationBuckets)+1
	sumNs  atomic.Int64
}

func (h *atomicHistogram) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(handoff.DurationBuckets) && s > handoff.DurationBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
}

func (h *atomicHistogram) snapshot() handoff.Histogram {
	out := handoff.Histogram{Counts: make([]uint64, len(handoff.DurationBuckets)+1)}
	for i := range out.Counts {
		out.Counts[i] = h.counts[i].Load()
	}
	out.Sum = time.Duration(h.sumNs.Load()).Seconds()
	return out
}

// StartStats begins counting for Collect and enforcing --request-
// timeout; retire asks the master to replace this worker, stuck when a
// call does not stop (the rest is asked to finish in time). Call it
// before Serve.
func (s *Server) StartStats(retire func(stuck bool)) {
	s.stats = &stats{srv: s, slots: make([]slotExtra, len(s.allSlots))}
	s.retire = retire
}

// panicked counts a contained panic of a connection goroutine.
func (ws *stats) panicked() {
	if ws != nil {
		ws.panics.Add(1)
	}
}

// arrive counts a request whose environ is built; respond calls done
// when it is answered.
func (ws *stats) arrive() {
	if ws != nil {
		ws.inFlight.Add(1)
	}
}

// done counts an answered request that took took. It runs before the
// access log line is written, so the response's status and bytes are
// final.
func (ws *stats) done(c *conn, took time.Duration) {
	if ws == nil {
		return
	}
	ws.inFlight.Add(-1)
	ws.duration.observe(took)
	class := c.acc.status / 100
	if class < 0 || class > 5 {
		class = 0
	}
	ws.requests[methodIndex(c.req.Method)][class].Add(1)
	ws.served.Add(1)
	if c.req.HasContentLength || c.req.Chunked {
		ws.bytesIn.Add(uint64(c.body.received()))
	}
	ws.bytesOut.Add(uint64(max(c.acc.sent(), 0)))
	if c.access() == nil {
		c.acc.produced = 0 // the access log resets the record when there is one
	}
	ws.timedOut.Delete(c)
}

// entered records the exchange the request on sl runs in, once its
// Caller entered the goroutine (Caller.Enter): from then on a request
// timeout can interrupt it. A parked response that takes a slot again
// records its exchange anew.
func (ws *stats) entered(sl *slot, x *exchange) {
	if ws == nil || ws.srv.cfg.RequestTimeout <= 0 {
		return
	}
	e := &ws.slots[sl.index]
	e.mu.Lock()
	e.x = x
	e.mu.Unlock()
}

// failure is the answer to a request whose app call raised: 504 when
// --request-timeout stopped it, else 500.
func (ws *stats) failure(c *conn) (int, string) {
	if ws != nil {
		if _, ok := ws.timedOut.LoadAndDelete(c); ok {
			return http.StatusGatewayTimeout, "The application took too long."
		}
	}
	return http.StatusInternalServerError, "The application failed."
}

// Tick enforces --request-timeout, logs the connections closed early
// and returns the counters for the master; the worker's reporter calls
// it every handoff.StatsInterval, after StartStats.
func (s *Server) Tick(now time.Time) *handoff.Stats {
	ws := s.stats
	if s.cfg.RequestTimeout > 0 {
		ws.enforceTimeout(now)
	}
	st := ws.collect(now)
	s.room.log(s, now, st.ConnsClosed)
	return st
}

func (ws *stats) collect(now time.Time) *handoff.Stats {
	st := &handoff.Stats{
		Requests: map[string]uint64{},
		Duration: ws.duration.snapshot(),
		Queue:    ws.queue.snapshot(),
		InFlight: int(ws.inFlight.Load()),
		Threads:  len(ws.srv.allSlots),
		BytesIn:  ws.bytesIn.Load(),
		BytesOut: ws.bytesOut.Load(),
		Timeouts: ws.timeouts.Load(),
		Panics:   ws.panics.Load(),
		Served:   ws.served.Load(),
	}
	for m := range ws.requests {
		for cl := range ws.requests[m] {
			if n := ws.requests[m][cl].Load(); n > 0 {
				st.Requests[methodNames[m]+" "+statusClasses[cl]] = n
			}
		}
	}
	if lag := ws.srv.appLag; lag != nil {
		st.Loop, st.LoopLagMs = true, lag(false).Milliseconds()
	}
	ws.srv.mu.Lock()
	st.Conns = len(ws.srv.conns)
	ws.srv.mu.Unlock()
	st.ConnsClosed = ws.srv.room.snapshot()
	for i, sl := range ws.srv.allSlots {
		since := sl.call.since.Load()
		if since == 0 {
			continue
		}
		st.BusyThreads++
		call := handoff.Call{Thread: i, AgeMs: now.Sub(time.Unix(0, since)).Milliseconds()}
		sl.call.mu.Lock()
		call.Method, call.Path = string(sl.call.method), truncate(string(sl.call.path), 256)
		sl.call.mu.Unlock()
		x := &ws.slots[i]
		x.mu.Lock()
		call.Client, call.RequestID = x.client, string(x.requestID)
		x.mu.Unlock()
		st.Calls = append(st.Calls, call)
	}
	return st
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
