package master

import "github.com/gowsgi/gowsgi/handoff"

// Worker starts and exits by reason, for /metrics. observe runs after
// every event the arbiter handles and compares the workers with what it
// saw last time, so the supervisor code needs no counting of its own.
//
// Reasons: boot (the first workers), reload (a new generation), crash
// (an exit nobody asked for), timeout (aborted after --timeout),
// max-requests, memory (--max-worker-memory), scale (TTIN/TTOU/WINCH)
// and shutdown.

// seenWorker is what observe last saw of a worker.
type seenWorker struct {
	gen      int
	state    workerState
	replaced bool // it was replaced after --max-requests or for its memory
	aborted  bool // it outlived --timeout
}

func (a *arbiter) observe() {
	o := a.ops
	if o == nil {
		return
	}
	for pid, s := range o.seen {
		w := a.workers[pid]
		if w == nil {
			o.noteExit(a, pid, s)
			continue
		}
		if w.state == replacing && !s.replaced {
			s.replaced = true
			o.pending = append(o.pending, o.replaceReason(pid))
		}
		if w.state == aborting && !s.aborted {
			s.aborted = true
			o.pending = append(o.pending, "timeout")
		}
		s.state = w.state
	}
	for _, w := range a.byID() {
		if o.seen[w.pid] == nil {
			o.seen[w.pid] = &seenWorker{gen: w.gen, state: w.state}
			o.starts[o.startReason(a, w)]++
		}
	}
}

func (o *ops) replaceReason(pid int) string {
	if _, ok := o.pidDone[pid]; ok {
		return "memory"
	}
	return "max-requests"
}

func (o *ops) startReason(a *arbiter, w *workerProc) string {
	if w.gen > o.maxGen {
		first := o.maxGen == 0
		o.maxGen = w.gen
		if !first {
			return "reload"
		}
	}
	if a.next != nil && w.gen == a.next.n {
		return "reload"
	}
	if len(o.pending) > 0 {
		why := o.pending[0]
		o.pending = o.pending[1:]
		return why
	}
	if w.gen == 1 && w.id <= o.cfg.Workers {
		return "boot" // the first fill numbers its workers 1..N
	}
	return "scale"
}

func (o *ops) noteExit(a *arbiter, pid int, s *seenWorker) {
	why := "crash"
	switch {
	case s.replaced:
		why = o.replaceReason(pid)
	case s.aborted:
		why = "timeout"
	case a.stop != running:
		why = "shutdown"
	case s.state == stopping && s.gen < a.cur.n:
		why = "reload"
	case s.state == stopping:
		why = "scale"
	}
	if why == "crash" && a.stop == running {
		o.pending = append(o.pending, "crash")
	}
	o.exits[why]++
	if st := o.stats[pid]; st != nil {
		addCounters(&o.retired, st)
	}
	delete(o.seen, pid)
	delete(o.stats, pid)
	delete(o.statsAt, pid)
	delete(o.pidDone, pid)
	delete(o.stackReqs.partial, pid)
	delete(o.stackReqs.waiters, pid) // their handlers time out
	if o.recycle == pid {
		o.recycle = 0
	}
}

// addCounters adds the counters and histograms of st to sum; gauges are
// left out, they end with their worker.
func addCounters(sum, st *handoff.Stats) {
	if sum.Requests == nil {
		sum.Requests = map[string]uint64{}
	}
	for k, n := range st.Requests {
		sum.Requests[k] += n
	}
	addHistogram(&sum.Duration, &st.Duration)
	addHistogram(&sum.Queue, &st.Queue)
	sum.BytesIn += st.BytesIn
	sum.BytesOut += st.BytesOut
	sum.Timeouts += st.Timeouts
	sum.Panics += st.Panics
	sum.Served += st.Served
	for k, n := range st.ConnsClosed {
		if sum.ConnsClosed == nil {
			sum.ConnsClosed = map[string]uint64{}
		}
		sum.ConnsClosed[k] += n
	}
}

func addHistogram(sum, h *handoff.Histogram) {
	for len(sum.Counts) < len(handoff.DurationBuckets)+1 {
		sum.Counts = append(sum.Counts, 0)
	}
	for i, n := range h.Counts {
		if i < len(sum.Counts) {
			sum.Counts[i] += n
		}
	}
	sum.Sum += h.Sum
}
