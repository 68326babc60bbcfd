package master

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/handoff"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// fakeOS records what the arbiter does to the world and lets a test
// play the world's part: workers getting ready, dying, time passing.
type fakeOS struct {
	t       *testing.T
	now     time.Time
	nextPID int

	spawned []spawned // every worker started, in order
	sent    []sentSig // every signal sent, in order
	// toThread: every signal sent to a thread, in order; the thread
	// ids in goneThreads fail with ESRCH.
	toThread    []sentThreadSig
	goneThreads []int
	pending     []exit     // exits the next reap returns
	notified    []string   // sd_notify states
	readies     int        // calls of ready
	quiesces    []quiesced // calls of quiesce

	newConfig  *config.Config // what loadConfig returns
	configErr  error
	spawnErr   error
	upgrades   int
	foreground bool
	reopened   int
	promoted   int

	// rebinds: the generation and bind of every rebind; rebindErr is
	// its answer. settled: the generation of every settleListeners;
	// closeOnSettle is what the next one reports closed. pidfiles: the
	// path of every movePidfile; pidfileErr its answer.
	rebinds       []rebound
	rebindErr     error
	settled       []int
	closeOnSettle []*listener
	pidfiles      []string
	pidfileErr    error
}

type rebound struct {
	gen  int
	bind []string
}

type spawned struct {
	id, pid int
	cfg     *config.Config
}

type sentSig struct {
	pid int
	sig syscall.Signal
}

type sentThreadSig struct {
	pid, tid int
	sig      syscall.Signal
}

type quiesced struct {
	wait bool
	max  time.Duration
	done chan struct{}
}

func newFakeOS(t *testing.T) *fakeOS {
	return &fakeOS{t: t, now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), nextPID: 100}
}

func (f *fakeOS) effects() *osEffects {
	return &osEffects{
		spawn: func(id, _ int, cfg *config.Config, _ json.RawMessage) (int, error) {
			if f.spawnErr != nil {
				return 0, f.spawnErr
			}
			f.nextPID++
			f.spawned = append(f.spawned, spawned{id: id, pid: f.nextPID, cfg: cfg})
			return f.nextPID, nil
		},
		signal: func(pid int, sig syscall.Signal) error {
			f.sent = append(f.sent, sentSig{pid, sig})
			return nil
		},
		signalThread: func(pid, tid int, sig syscall.Signal) error {
			if slices.Contains(f.goneThreads, tid) {
				return unix.ESRCH
			}
			f.toThread = append(f.toThread, sentThreadSig{pid: pid, tid: tid, sig: sig})
			return nil
		},
		reap: func() []exit {
			out := f.pending
			f.pending = nil
			return out
		},
		now:   func() time.Time { return f.now },
		after: func(time.Duration) <-chan time.Time { return make(chan time.Time) },
		quiesce: func(wait bool, max time.Duration) <-chan struct{} {
			q := quiesced{wait: wait, max: max, done: make(chan struct{})}
			f.quiesces = append(f.quiesces, q)
			return q.done
		},
		rebind: func(gen int, cfg *config.Config) ([]*listener, error) {
			f.rebinds = append(f.rebinds, rebound{gen: gen, bind: cfg.Bind})
			if f.rebindErr != nil {
				return nil, f.rebindErr
			}
			return []*listener{{addr: cfg.Bind[0]}}, nil
		},
		settleListeners: func(gen int) []*listener {
			f.settled = append(f.settled, gen)
			closed := f.closeOnSettle
			f.closeOnSettle = nil
			return closed
		},
		movePidfile: func(path string) error {
			f.pidfiles = append(f.pidfiles, path)
			return f.pidfileErr
		},
		loadConfig: func() (*config.Config, error) {
			if f.configErr != nil {
				return nil, f.configErr
			}
			c := *f.newConfig
			return &c, nil
		},
		execMaster: func() (int, error) {
			f.upgrades++
			f.nextPID++
			return f.nextPID, nil
		},
		ready:        func() { f.readies++ },
		notify:       func(s string) { f.notified = append(f.notified, s) },
		reopenLogs:   func(*config.Config) error { f.reopened++; return nil },
		promote:      func() error { f.promoted++; return nil },
		inForeground: func() bool { return f.foreground },
	}
}

// pidsSpawned returns the pids of the workers started after the first skip.
func (f *fakeOS) pidsSpawned(skip int) []int {
	var pids []int
	for _, s := range f.spawned[skip:] {
		pids = append(pids, s.pid)
	}
	return pids
}

// signalled returns the pids that got sig, in order.
func (f *fakeOS) signalled(sig syscall.Signal) []int {
	var pids []int
	for _, s := range f.sent {
		if s.sig == sig {
			pids = append(pids, s.pid)
		}
	}
	return pids
}

// stopped lists the workers told to stop gracefully: a ready one by
// handoff.GracefulStopSignal, one still booting by TERM.
func (f *fakeOS) stopped() []int {
	var pids []int
	for _, s := range f.sent {
		if s.sig == handoff.GracefulStopSignal || s.sig == syscall.SIGTERM {
			pids = append(pids, s.pid)
		}
	}
	return pids
}

func (f *fakeOS) advance(d time.Duration) { f.now = f.now.Add(d) }

// testArbiter is an arbiter on a fakeOS whose first generation has
// been started, with its log captured.
type testArbiter struct {
	*arbiter
	os  *fakeOS
	log *bytes.Buffer
}

func testConfig(workers int) *config.Config {
	return &config.Config{
		App: "app:app", Bind: []string{"127.0.0.1:8000"}, Backlog: 2048, Workers: workers,
		Timeout: 30 * time.Second, GracefulTimeout: 30 * time.Second,
	}
}

func startArbiter(t *testing.T, cfg *config.Config) *testArbiter {
	t.Helper()
	f := newFakeOS(t)
	var buf bytes.Buffer
	a := newArbiter(zerolog.New(&buf), f.effects(), cfg)
	a.fill()
	return &testArbiter{arbiter: a, os: f, log: &buf}
}

// readyAll reports every worker started so far as ready.
func (ta *testArbiter) readyAll() {
	for _, s := range ta.os.spawned {
		ta.onEvent(event{kind: evReady, pid: s.pid})
	}
}

// die makes pid exit with code and delivers the SIGCHLD.
func (ta *testArbiter) die(pid, code int) {
	ta.os.pending = append(ta.os.pending, exit{pid: pid, status: unix.WaitStatus(code << 8)})
	ta.onSignal(syscall.SIGCHLD)
}

// killed makes pid die of sig and delivers the SIGCHLD.
func (ta *testArbiter) killed(pid int, sig syscall.Signal) {
	ta.os.pending = append(ta.os.pending, exit{pid: pid, status: unix.WaitStatus(sig)})
	ta.onSignal(syscall.SIGCHLD)
}

// tick advances the clock and runs the deadlines.
func (ta *testArbiter) tick(d time.Duration) {
	ta.os.advance(d)
	ta.onTick()
}

func (ta *testArbiter) livePIDs() []int {
	var pids []int
	for _, w := range ta.byID() {
		pids = append(pids, w.pid)
	}
	return pids
}

func (ta *testArbiter) states() map[int]workerState {
	m := map[int]workerState{}
	for pid, w := range ta.workers {
		m[pid] = w.state
	}
	return m
}

func equalInts(a, b []int) bool { return slices.Equal(a, b) }

var errFake = errors.New("fake failure")

func nopLog() zerolog.Logger { return zerolog.Nop() }

func equalStrings(a, b []string) bool { return slices.Equal(a, b) }

func itoa(n int) string { return strconv.Itoa(n) }
