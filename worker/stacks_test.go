package worker

import (
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/engine"
)

// A dump as faulthandler writes it: the request's thread (0x7f01) and
// another, in either order.
const (
	stuckFrames = "Thread 0x0000000000007f01 (most recent call first):\n" +
		"  File \"/srv/app.py\", line 34 in stuck\n  File \"/srv/app.py\", line 16 in app\n"
	stuckNoFrame = "Thread 0x0000000000007f01 (most recent call first):\n  <no Python frame>\n"
	otherThread  = "Thread 0x0000000000007f02 (most recent call first):\n  File \"/srv/app.py\", line 40 in hog\n"
)

func TestMarkStuckThread(t *testing.T) {
	call := func(stage engine.CallStage, thread uint64) engine.StuckCall {
		return engine.StuckCall{Age: 2001 * time.Millisecond, Method: "GET", Path: "/stuck",
			Place: engine.CallPlace{Stage: stage, Thread: thread}}
	}
	const marked = "Thread 0x0000000000007f01 (most recent call first; GET /stuck for 2.001s, "
	for _, tc := range []struct {
		name      string
		dump      string
		call      engine.StuckCall
		where     string
		wantMark  string // "" = the dump unchanged
		wantAfter string // what follows the marked header
	}{
		{name: "in the app, first", dump: stuckFrames + "\n" + otherThread, call: call(engine.StageRunning, 0x7f01),
			where: callInPython, wantMark: marked + "in Python code):\n", wantAfter: "  File \"/srv/app.py\", line 34 in stuck"},
		{name: "in the app, last", dump: otherThread + "\n" + stuckFrames, call: call(engine.StageRunning, 0x7f01),
			where: callInPython, wantMark: marked + "in Python code):\n"},
		{name: "waiting for the GIL", dump: otherThread + "\n" + stuckNoFrame, call: call(engine.StageWaiting, 0x7f01),
			where: callGIL, wantMark: marked + "waiting for the GIL):\n", wantAfter: "  <no Python frame>\n"},
		{name: "before the app, holding the GIL", dump: stuckNoFrame + "\n" + otherThread, call: call(engine.StageRunning, 0x7f01),
			where: callAround, wantMark: marked + "holding the GIL, in gowsgi's code around the app):\n"},
		// The stage said "waiting" when it was read, but the dump shows
		// the call in the app since: the dump decides.
		{name: "reached the app since", dump: stuckFrames, call: call(engine.StageWaiting, 0x7f01),
			where: callInPython, wantMark: marked + "in Python code):\n"},
		{name: "not in Python", dump: stuckNoFrame, call: call(engine.StageOutside, 0), where: callOutside},
		{name: "thread not in the dump", dump: otherThread, call: call(engine.StageWaiting, 0x7f03), where: callLost},
		// An ASGI loop's stall in no request's code (a lifespan task): no request.
		{name: "no request known", dump: stuckFrames, call: engine.StuckCall{Age: 2001 * time.Millisecond,
			Place: engine.CallPlace{Stage: engine.StageRunning, Thread: 0x7f01}}, where: callInPython,
			wantMark: "Thread 0x0000000000007f01 (most recent call first; no request known for 2.001s, in Python code):\n"},
		// 0x7f0 is a prefix of 0x7f01's digits but not its header.
		{name: "no partial match", dump: stuckFrames, call: call(engine.StageRunning, 0x7f0), where: callLost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, where := markStuckThread(tc.dump, tc.call)
			if where != tc.where {
				t.Errorf("where = %q; want %q", where, tc.where)
			}
			if tc.wantMark == "" {
				if got != tc.dump {
					t.Errorf("dump changed:\n%s", got)
				}
				return
			}
			i := strings.Index(got, tc.wantMark)
			if i < 0 {
				t.Fatalf("no %q in\n%s", tc.wantMark, got)
			}
			if !strings.HasPrefix(got[i+len(tc.wantMark):], tc.wantAfter) {
				t.Errorf("after the mark %q; want %q", got[i+len(tc.wantMark):], tc.wantAfter)
			}
			if strings.Count(got, "(most recent call first") != strings.Count(tc.dump, "(most recent call first") {
				t.Errorf("threads lost or added:\n%s", got)
			}
		})
	}
}
