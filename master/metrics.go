package master

import (
	"bufio"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gowsgi/gowsgi/handoff"
)

// snapshot is a copy of what /metrics and /status show, taken on the
// arbiter goroutine and rendered outside it.
type snapshot struct {
	now      time.Time
	pid      int
	ready    string // notReady's answer: "" when ready
	workers  []workerView
	live     handoff.Stats // counters of the live workers plus the retired
	inFlight int
	busy     int
	threads  int
	conns    int
	starts   map[string]uint64
	exits    map[string]uint64
}

type workerView struct {
	id, pid, gen int
	state        string
	started      time.Time
	stats        *handoff.Stats // the last report; nil before the first; shared, never written
	statsAt      time.Time
}

var stateNames = [...]string{booting: "booting", serving: "serving", replacing: "replacing",
	stopping: "stopping", aborting: "aborting"}

func (a *arbiter) snapshot() *snapshot {
	o := a.ops
	s := &snapshot{now: a.env.now(), pid: os.Getpid(), ready: a.notReady(),
		starts: maps.Clone(o.starts), exits: maps.Clone(o.exits)}
	addCounters(&s.live, &o.retired)
	for _, w := range a.byID() {
		st := o.stats[w.pid]
		s.workers = append(s.workers, workerView{id: w.id, pid: w.pid, gen: w.gen,
			state: stateNames[w.state], started: w.started, stats: st, statsAt: o.statsAt[w.pid]})
		if st != nil {
			addCounters(&s.live, st)
			s.inFlight += st.InFlight
			s.busy += st.BusyThreads
			s.threads += st.Threads
			s.conns += st.Conns
		}
	}
	return s
}

// connsClosed is m with every reason present, from zero.
func connsClosed(m map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(handoff.ConnCloseReasons))
	for _, r := range handoff.ConnCloseReasons {
		out[r] = m[r]
	}
	return out
}

func (o *ops) metrics(w http.ResponseWriter, r *http.Request) {
	var s *snapshot
	if !o.ask(func(a *arbiter) { s = a.snapshot() }) {
		plain(w, http.StatusServiceUnavailable, "the master loop does not answer")
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	writeMetrics(&promWriter{w: bw}, s)
	bw.Flush()
}

// writeMetrics writes the snapshot in the Prometheus text exposition
// format. Names follow Prometheus conventions: a gowsgi_ prefix, base
// units (seconds, bytes), _total on counters.
func writeMetrics(p *promWriter, s *snapshot) {
	p.family("gowsgi_requests_total", "counter", "Requests answered, by method and status class.")
	keys := slices.Sorted(maps.Keys(s.live.Requests))
	for _, k := range keys {
		method, class, _ := strings.Cut(k, " ")
		p.sample("gowsgi_requests_total", float64(s.live.Requests[k]), "method", method, "status", class)
	}
	p.histogram("gowsgi_request_duration_seconds",
		"Time from a request's arrival in Python's queue to its last response byte.", &s.live.Duration)
	p.histogram("gowsgi_request_queue_seconds",
		"Time a request waited for a free Python thread.", &s.live.Queue)
	p.gauge("gowsgi_requests_in_flight", "Requests being answered or waiting for a Python thread.", s.inFlight)
	p.gauge("gowsgi_python_threads_busy", "Python threads running the app.", s.busy)
	p.gauge("gowsgi_python_threads", "Python threads of the serving workers (--threads per worker).", s.threads)
	p.gauge("gowsgi_connections_open", "Open client connections.", s.conns)
	p.labelled("gowsgi_connections_closed_early_total", "counter",
		"Connections closed before a request: evicted to make room (fresh, stalled mid-head, idle keep-alive) or timed out (first byte, slow head).",
		"reason", connsClosed(s.live.ConnsClosed))
	p.counter("gowsgi_request_body_bytes_total", "Request body bytes received.", float64(s.live.BytesIn))
	p.counter("gowsgi_response_body_bytes_total", "Response body bytes sent.", float64(s.live.BytesOut))
	p.counter("gowsgi_request_timeouts_total", "Requests stopped by --request-timeout.", float64(s.live.Timeouts))
	p.counter("gowsgi_connection_panics_total",
		"Connections closed by a Go panic in the worker, contained to them (the worker went on).", float64(s.live.Panics))
	p.labelled("gowsgi_worker_starts_total", "counter", "Worker processes started, by reason.", "reason", s.starts)
	p.labelled("gowsgi_worker_exits_total", "counter", "Worker processes exited, by reason.", "reason", s.exits)

	states := map[string]uint64{}
	for _, n := range stateNames {
		states[n] = 0
	}
	for _, w := range s.workers {
		states[w.state]++
	}
	p.labelled("gowsgi_workers", "gauge", "Worker processes by state.", "state", states)
	ready := 0
	if s.ready == "" {
		ready = 1
	}
	p.gauge("gowsgi_ready", "1 when /readyz answers 200.", ready)
	writeLoopLag(p, s.workers)
	p.family("gowsgi_worker_resident_memory_bytes", "gauge", "Resident memory (RSS) of each worker.")
	mems := make([]memUsage, len(s.workers))
	for i, w := range s.workers {
		mems[i], _ = readMemory(w.pid)
		p.sample("gowsgi_worker_resident_memory_bytes", float64(mems[i].rss), "worker", strconv.Itoa(w.id))
	}
	p.family("gowsgi_worker_private_memory_bytes", "gauge", "Private memory (USS) of each worker, what replacing it frees.")
	for i, w := range s.workers {
		p.sample("gowsgi_worker_private_memory_bytes", float64(mems[i].uss), "worker", strconv.Itoa(w.id))
	}
}

// writeLoopLag writes how long each ASGI worker's event loop has left
// an event untaken; nothing for WSGI workers, which have no loop.
func writeLoopLag(p *promWriter, workers []workerView) {
	const name = "gowsgi_event_loop_lag_seconds"
	family := false
	for _, w := range workers {
		if w.stats == nil || !w.stats.Loop {
			continue
		}
		if !family {
			p.family(name, "gauge",
				"How long each ASGI worker's event loop has left an event untaken, as its last report said (0: it keeps up).")
			family = true
		}
		p.sample(name, float64(w.stats.LoopLagMs)/1000, "worker", strconv.Itoa(w.id))
	}
}
