package master

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/handoff"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// The admin listener (--admin-bind) is served by the master, never by
// Python, so it answers while every worker is busy or stuck:
//
//	/healthz  200 while the arbiter loop answers and a worker serves
//	/readyz   200 while every worker of the current generation serves;
//	          503 from the moment a graceful stop begins
//	/metrics  Prometheus text exposition, summed over the workers (metrics.go)
//	/status   JSON: every worker and every busy Python thread (status.go)
//	/stacks   ?pid=N: the Python stacks of one worker (stacks.go)
//
// HTTP handlers run on their own goroutines; everything they read is
// owned by the arbiter goroutine, so they ask it through an event that
// runs a function there (evAdmin) and wait for the answer.

// adminAskTimeout is how long a handler waits for the arbiter loop; a
// loop that does not answer in that time is not live.
const adminAskTimeout = 2 * time.Second

// ops is the master's operability state: the admin listener, the
// workers' last stats, worker starts and exits by reason, the shutdown
// delay and memory recycling. Fields are owned by the arbiter goroutine
// unless marked.
type ops struct {
	cfg    *config.Config // the first generation's: the admin bind lasts the master's life
	log    zerolog.Logger
	events chan<- event // any goroutine
	ln     net.Listener // nil without --admin-bind; immutable
	srv    *http.Server // nil without --admin-bind; immutable
	unlink string       // the admin unix socket file to remove at exit

	delaying bool // a TERM waits out --shutdown-delay

	seen    map[int]*seenWorker    // by pid: what observe knew of each worker
	stats   map[int]*handoff.Stats // by pid: each live worker's last report
	statsAt map[int]time.Time      // by pid: when that report arrived
	retired handoff.Stats          // counters of the workers that exited
	starts  map[string]uint64      // worker starts by reason
	exits   map[string]uint64      // worker exits by reason
	pending []string               // reasons for replacements not yet started
	maxGen  int                    // the newest generation seen
	recycle int                    // pid being replaced for its memory; 0 if none
	pidDone map[int]struct{}       // pids replaced for their memory

	stackReqs stackRequests // /stacks (stacks.go)

	// memOf reads a worker's memory: readMemory, a fake in tests.
	memOf func(pid int) (memUsage, bool)
}

// newOps opens the admin listener, if any. The caller starts serving
// with serve once the arbiter exists and calls close at exit.
func newOps(cfg *config.Config, log zerolog.Logger, events chan<- event) (*ops, error) {
	o := &ops{
		cfg: cfg, log: log, events: events,
		seen: map[int]*seenWorker{}, stats: map[int]*handoff.Stats{}, statsAt: map[int]time.Time{},
		starts: map[string]uint64{}, exits: map[string]uint64{},
		pidDone: map[int]struct{}{}, memOf: readMemory,
	}
	if cfg.AdminBind == "" {
		return o, nil
	}
	network, addr := "tcp", cfg.AdminBind
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", strings.TrimPrefix(path, "//")
		if fi, err := os.Lstat(addr); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(addr) // a stale socket of a master that died
		}
		o.unlink = addr
	}
	// SO_REUSEPORT lets the new master of a USR2 upgrade bind the same
	// admin address while the old one still serves it.
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		c.Control(func(fd uintptr) {
			if network == "tcp" {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}
		})
		return serr
	}}
	ln, err := lc.Listen(context.Background(), network, addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false) // removed by close, unless handed over
	}
	o.ln = ln
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", o.healthz)
	mux.HandleFunc("/readyz", o.readyz)
	mux.HandleFunc("/metrics", o.metrics)
	mux.HandleFunc("/status", o.status)
	mux.HandleFunc("/stacks", o.stacks)
	o.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second}
	return o, nil
}

// startOps opens the admin listener, serves it and watches the
// workers' memory for a; the returned func undoes it all.
func startOps(a *arbiter, cfg *config.Config, events chan<- event) (stop func(), err error) {
	o, err := newOps(cfg, a.log, events)
	if err != nil {
		return nil, err
	}
	a.ops = o
	o.serve()
	addrFile := ""
	if cfg.Pidfile != "" && o.ln != nil {
		// gowsgi status --pid PIDFILE finds the admin listener here.
		addrFile = cfg.Pidfile + ".admin"
		if err := os.WriteFile(addrFile, []byte(o.adminAddress()+"\n"), 0o644); err != nil {
			a.log.Warn().Err(err).Str("file", addrFile).Msg("cannot write the admin address file")
			addrFile = ""
		}
	}
	done := make(chan struct{})
	go o.watchMemory(done)
	return func() {
		close(done)
		o.close(a.handedOver())
		if addrFile != "" && !a.handedOver() {
			os.Remove(addrFile)
		}
	}, nil
}

// adminAddress is the admin listener's address as a client dials it.
func (o *ops) adminAddress() string {
	if o.ln == nil {
		return ""
	}
	if o.unlink != "" {
		return "unix:" + o.unlink
	}
	return o.ln.Addr().String()
}

func (o *ops) serve() {
	if o.srv == nil {
		return
	}
	o.log.Info().Str("address", o.adminAddress()).Msg("admin listening")
	go func() {
		if err := o.srv.Serve(o.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.log.Error().Err(err).Msg("admin listener failed")
		}
	}()
}

// close stops the admin listener; keepFile leaves its unix socket file
// to a new master that took over (USR2).
func (o *ops) close(keepFile bool) {
	if o.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	o.srv.Shutdown(ctx)
	if o.unlink != "" && !keepFile {
		os.Remove(o.unlink)
	}
}

// ask runs f on the arbiter goroutine and reports whether it ran within
// adminAskTimeout. Called from any goroutine but the arbiter's.
func (o *ops) ask(f func(a *arbiter)) bool {
	done := make(chan struct{})
	ev := event{kind: evAdmin, run: func(a *arbiter) { f(a); close(done) }}
	timer := time.NewTimer(adminAskTimeout)
	defer timer.Stop()
	select {
	case o.events <- ev:
	case <-timer.C:
		return false
	}
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

func (o *ops) healthz(w http.ResponseWriter, r *http.Request) {
	serving := 0
	if !o.ask(func(a *arbiter) { serving = a.countAll(isServingOrReplacing) }) {
		plain(w, http.StatusServiceUnavailable, "the master loop does not answer")
		return
	}
	if serving == 0 {
		plain(w, http.StatusServiceUnavailable, "no worker serves")
		return
	}
	plain(w, http.StatusOK, "ok")
}

func (o *ops) readyz(w http.ResponseWriter, r *http.Request) {
	var why string
	if !o.ask(func(a *arbiter) { why = a.notReady() }) {
		why = "the master loop does not answer"
	}
	if why != "" {
		plain(w, http.StatusServiceUnavailable, why)
		return
	}
	plain(w, http.StatusOK, "ready")
}

func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// notReady says why the instance should get no traffic, or "".
func (a *arbiter) notReady() string {
	switch {
	case a.stop != running || (a.ops != nil && a.ops.delaying):
		return "stopping"
	case a.cur.want == 0:
		return "no workers (WINCH)"
	case a.count(a.cur, isServingOrReplacing) < a.cur.want:
		return "workers are booting"
	}
	return ""
}

func isServingOrReplacing(w *workerProc) bool { return w.state == serving || w.state == replacing }

func (a *arbiter) countAll(match func(*workerProc) bool) int {
	n := 0
	for _, w := range a.workers {
		if match(w) {
			n++
		}
	}
	return n
}

// delayStop handles TERM with --shutdown-delay: /readyz fails at once,
// the graceful stop begins after the delay. It reports whether the
// stop was delayed (or already is).
func (a *arbiter) delayStop() bool {
	o := a.ops
	if o == nil || a.stop != running || a.cur.cfg.ShutdownDelay <= 0 || a.child != nil {
		return false
	}
	if o.delaying {
		return true
	}
	o.delaying = true
	delay := a.cur.cfg.ShutdownDelay
	a.log.Info().Dur("shutdown_delay", delay).Msg("TERM: not ready any more; serving on until the shutdown delay ends")
	time.AfterFunc(delay, func() {
		o.events <- event{kind: evAdmin, run: func(a *arbiter) { a.beginStop(graceful, "graceful stop") }}
	})
	return true
}

// statsEvent carries a worker's stats line to the arbiter goroutine.
func statsEvent(pid int, st *handoff.Stats) event {
	return event{kind: evAdmin, run: func(a *arbiter) { a.noteStats(pid, st) }}
}

func (a *arbiter) noteStats(pid int, st *handoff.Stats) {
	if a.ops == nil || a.workers[pid] == nil {
		return
	}
	a.ops.stats[pid] = st
	a.ops.statsAt[pid] = a.env.now()
}
