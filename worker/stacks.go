package worker

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/gowsgi/gowsgi/engine"
	"github.com/gowsgi/gowsgi/handoff"
)

// answerStacks sends the Python stack of every thread to the master
// each time it asks (handoff.StacksSignal, for gowsgi stack PID). The
// dump reads the frames without the GIL, so the app keeps running and a
// thread stuck holding the GIL is shown too.
func (p *process) answerStacks() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, handoff.StacksSignal)
	for range sigs {
		dump, err := pythonStacks()
		if err != nil {
			dump = "cannot read the Python stacks: " + err.Error() + "\n"
		}
		for _, line := range handoff.StacksLines(dump) {
			p.ctl.WriteString(line + "\n")
		}
	}
}

// Where a timed-out request's call was, as the log's "call" field says.
const (
	callInPython = "in Python code" // its thread shows Python frames
	// The others: no Python frame on the request's thread.
	callGIL     = "waiting for the GIL"
	callAround  = "holding the GIL, in gowsgi's code around the app"
	callOutside = "in gowsgi's code, not calling Python"
	callLost    = "its thread is not in the dump"
)

// markStuckThread finds the thread of call in dump, faulthandler's
// format, and appends the request to that thread's header line:
//
//	Thread 0x00007f12ee4316c0 (most recent call first):
//
// becomes
//
//	Thread 0x00007f12ee4316c0 (most recent call first; GET /stuck for 2.001s, in Python code):
//
// It returns the marked dump and where the call was (callInPython and
// the other call* values). That the call had reached Python code is
// read from the dump itself, not from the call's stage, which may have
// changed since: the two always agree in the log.
func markStuckThread(dump string, call engine.StuckCall) (string, string) {
	if call.Place.Stage == engine.StageOutside {
		return dump, callOutside
	}
	header := fmt.Sprintf("Thread 0x%016x (most recent call first", call.Place.Thread)
	at := strings.Index(dump, header+"):\n")
	if at < 0 {
		return dump, callLost
	}
	body := dump[at+len(header)+3:]
	if end := strings.Index(body, "\n\n"); end >= 0 {
		body = body[:end+1]
	}
	where := callInPython
	if !strings.HasPrefix(body, "  File ") {
		// "  <no Python frame>"
		where = callGIL
		if call.Place.Stage == engine.StageRunning {
			where = callAround
		}
	}
	what := call.Method + " " + call.Path
	if call.Method == "" {
		what = "no request known" // an event loop running nothing of a request (a lifespan task)
	}
	mark := fmt.Sprintf("; %s for %v, %s", what, call.Age.Round(time.Millisecond), where)
	return dump[:at+len(header)] + mark + dump[at+len(header):], where
}
