package master

import (
	"encoding/json"
	"net/http"
	"time"
)

// StatusReport is the JSON of /status, read back by `gowsgi status`.
type StatusReport struct {
	MasterPID int            `json:"master_pid"`
	Ready     bool           `json:"ready"`
	NotReady  string         `json:"not_ready,omitempty"` // why not
	Workers   []WorkerStatus `json:"workers"`
}

// WorkerStatus is one worker process in /status.
type WorkerStatus struct {
	ID          int          `json:"id"`
	PID         int          `json:"pid"`
	Generation  int          `json:"generation"`
	State       string       `json:"state"`
	AgeSeconds  float64      `json:"age_s"`
	Requests    uint64       `json:"requests"`
	RSSBytes    uint64       `json:"rss_bytes"`
	USSBytes    uint64       `json:"uss_bytes"`
	Threads     int          `json:"threads"`
	BusyThreads int          `json:"busy_threads"`
	Connections int          `json:"connections"`
	Calls       []CallStatus `json:"calls"`
}

// CallStatus is one Python thread busy with a request.
type CallStatus struct {
	Thread         int     `json:"thread"`
	Method         string  `json:"method"`
	Path           string  `json:"path"`
	Client         string  `json:"client,omitempty"`
	RequestID      string  `json:"request_id,omitempty"`
	ElapsedSeconds float64 `json:"elapsed_s"`
}

func (s *snapshot) report() *StatusReport {
	r := &StatusReport{MasterPID: s.pid, Ready: s.ready == "", NotReady: s.ready, Workers: []WorkerStatus{}}
	for _, w := range s.workers {
		ws := WorkerStatus{ID: w.id, PID: w.pid, Generation: w.gen, State: w.state,
			AgeSeconds: s.now.Sub(w.started).Seconds(), Calls: []CallStatus{}}
		if m, ok := readMemory(w.pid); ok {
			ws.RSSBytes, ws.USSBytes = m.rss, m.uss
		}
		if st := w.stats; st != nil {
			ws.Requests, ws.Threads, ws.BusyThreads, ws.Connections = st.Served, st.Threads, st.BusyThreads, st.Conns
			since := s.now.Sub(w.statsAt)
			for _, c := range st.Calls {
				ws.Calls = append(ws.Calls, CallStatus{Thread: c.Thread, Method: c.Method, Path: c.Path,
					Client: c.Client, RequestID: c.RequestID,
					ElapsedSeconds: (time.Duration(c.AgeMs)*time.Millisecond + since).Seconds()})
			}
		}
		r.Workers = append(r.Workers, ws)
	}
	return r
}

func (o *ops) status(w http.ResponseWriter, r *http.Request) {
	var s *snapshot
	if !o.ask(func(a *arbiter) { s = a.snapshot() }) {
		plain(w, http.StatusServiceUnavailable, "the master loop does not answer")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(s.report())
}
