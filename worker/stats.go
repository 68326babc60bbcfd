package worker

import (
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gowsgi/gowsgi/handoff"
)

// workerStats counts what the worker serves and reports it to the
// master every handoff.StatsInterval on the control pipe; the master
// sums the workers for /metrics and lists their busy threads in
// /status. Counters are atomics written by the connection goroutines;
// the reporter goroutine reads them. A nil *workerStats (unit tests)
// counts nothing.
type workerStats struct {
	srv *server
	ctl *os.File // the control pipe; nil when not reporting

	requests [len(methodNames)][6]atomic.Uint64 // by method, status class (0 = none)
	duration atomicHistogram
	queue    atomicHistogram
	inFlight atomic.Int64
	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64
	served   atomic.Uint64
	timeouts atomic.Uint64
	panics   atomic.Uint64 // connections whose goroutine panicked: panic.go
	slots    []slotExtra   // by slot number

	// timedOut holds the *conn of each request --request-timeout
	// stopped, until it is answered (504) or done.
	timedOut sync.Map
	retiring atomic.Bool // asked the master to replace this worker
}

// slotExtra is what /status and the request timeout need of a slot
// beyond its callState: who the request is for, and the OS thread the
// call runs on.
type slotExtra struct {
	mu        sync.Mutex
	owner     *conn  // guarded by mu: the request's connection
	client    string // guarded by mu
	requestID []byte // guarded by mu; storage reused
	ident     atomic.Uint64
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

func newWorkerStats(s *server, ctl *os.File) *workerStats {
	return &workerStats{srv: s, ctl: ctl, slots: make([]slotExtra, len(s.allSlots))}
}

// startStats begins reporting to the master on ctl, enforcing
// --request-timeout and answering stack requests; Main calls it before
// run.
func (s *server) startStats(ctl *os.File) {
	s.stats = newWorkerStats(s, ctl)
	go s.stats.report()
	go s.stats.answerStacks() // stacks.go
}

// panicked counts a contained panic of a connection goroutine.
func (ws *workerStats) panicked() {
	if ws != nil {
		ws.panics.Add(1)
	}
}

// arrive counts a request whose environ is built; respond calls done
// when it is answered.
func (ws *workerStats) arrive() {
	if ws != nil {
		ws.inFlight.Add(1)
	}
}

// done counts an answered request that took took. It runs before the
// access log line is written, so the response's status and bytes are
// final.
func (ws *workerStats) done(c *conn, took time.Duration) {
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

// takeSlotFor waits for a Python thread for c's request, which arrived
// at t0, counting the wait, and records who the request is for.
func (s *server) takeSlotFor(c *conn, t0 time.Time) *slot {
	sl := s.takeSlot(c.req.Method, c.req.Path, t0)
	ws := s.stats
	if ws == nil {
		return sl
	}
	ws.queue.observe(time.Unix(0, sl.call.since.Load()).Sub(t0))
	x := &ws.slots[sl.index]
	x.mu.Lock()
	x.owner, x.client = c, c.info.RemoteAddr
	x.requestID = append(x.requestID[:0], c.requestIDBytes()...)
	x.mu.Unlock()
	return sl
}

// pinned records the OS thread the slot's call runs on; respond calls
// it right after locking the goroutine to its thread.
func (ws *workerStats) pinned(sl *slot) {
	if ws == nil || ws.srv.cfg.RequestTimeout <= 0 {
		return
	}
	ws.slots[sl.index].ident.Store(threadIdent())
}

// failure is the answer to a request whose app call raised: 504 when
// --request-timeout stopped it, else 500.
func (ws *workerStats) failure(c *conn) (int, string) {
	if ws != nil {
		if _, ok := ws.timedOut.LoadAndDelete(c); ok {
			return http.StatusGatewayTimeout, "The application took too long."
		}
	}
	return http.StatusInternalServerError, "The application failed."
}

// report sends the stats every handoff.StatsInterval and enforces
// --request-timeout.
func (ws *workerStats) report() {
	t := time.NewTicker(handoff.StatsInterval)
	defer t.Stop()
	var last string
	var sentAt time.Time
	for now := range t.C {
		if ws.srv.cfg.RequestTimeout > 0 {
			ws.enforceTimeout(now)
		}
		st := ws.collect(now)
		ws.srv.room.log(ws.srv, now, st.ConnsClosed) // room.go
		line := st.Line()
		if line == last && now.Sub(sentAt) < statsResend {
			continue // an idle worker does not wake the master four times a second
		}
		ws.ctl.WriteString(line + "\n")
		last, sentAt = line, now
	}
}

// statsResend is how often an unchanged report is sent anyway.
const statsResend = 5 * time.Second

func (ws *workerStats) collect(now time.Time) *handoff.Stats {
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
