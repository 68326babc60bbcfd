package master

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gowsgi/gowsgi/handoff"
)

// /stacks?pid=N: the Python stack of every thread of one worker, taken
// while its app keeps running (gowsgi stack PID). The master signals the
// worker (handoff.StacksSignal) and relays the dump it answers with on
// the control pipe.

// stacksWait is how long /stacks waits for a worker's dump.
const stacksWait = 3 * time.Second

// stackRequests is owned by the arbiter goroutine.
type stackRequests struct {
	partial map[int]*strings.Builder // by pid: chunks received so far
	waiters map[int][]chan string    // by pid: handlers waiting for a dump
}

func stacksEvent(pid int, chunk string, more bool) event {
	return event{kind: evAdmin, run: func(a *arbiter) { a.noteStacks(pid, chunk, more) }}
}

func (a *arbiter) noteStacks(pid int, chunk string, more bool) {
	r := &a.ops.stackReqs
	if r.partial == nil {
		r.partial = map[int]*strings.Builder{}
	}
	b := r.partial[pid]
	if b == nil {
		b = &strings.Builder{}
		r.partial[pid] = b
	}
	b.WriteString(chunk)
	if more {
		return
	}
	delete(r.partial, pid)
	for _, ch := range r.waiters[pid] {
		ch <- b.String() // buffered: one send per waiter
	}
	delete(r.waiters, pid)
}

func (o *ops) stacks(w http.ResponseWriter, r *http.Request) {
	pid, err := strconv.Atoi(r.URL.Query().Get("pid"))
	if err != nil {
		plain(w, http.StatusBadRequest, "want /stacks?pid=N with N a worker's pid")
		return
	}
	ch := make(chan string, 1)
	var why string
	asked := o.ask(func(a *arbiter) {
		wp := a.workers[pid]
		switch {
		case wp == nil:
			why = "no worker has pid " + strconv.Itoa(pid)
		case !wp.ready || wp.killed:
			why = "worker " + strconv.Itoa(pid) + " is not serving"
		default:
			r := &a.ops.stackReqs
			if r.waiters == nil {
				r.waiters = map[int][]chan string{}
			}
			if len(r.waiters[pid]) == 0 {
				a.signalApp(wp, handoff.StacksSignal)
			}
			r.waiters[pid] = append(r.waiters[pid], ch)
		}
	})
	switch {
	case !asked:
		plain(w, http.StatusServiceUnavailable, "the master loop does not answer")
		return
	case why != "":
		plain(w, http.StatusNotFound, why)
		return
	}
	select {
	case dump := <-ch:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(dump))
	case <-time.After(stacksWait):
		plain(w, http.StatusGatewayTimeout, "the worker did not answer")
	}
}
