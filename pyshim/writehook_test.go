package pyshim

import (
	"runtime"
	"strings"
	"testing"
)

// hookSteps records what a write hook receives.
type hookSteps struct {
	heads  []string
	blocks []string
	accept bool
}

func (h *hookSteps) hook(s Step) bool {
	if s.HasHead {
		head := string(s.Status)
		for k, v := range s.Headers() {
			head += "|" + string(k) + ": " + string(v)
		}
		h.heads = append(h.heads, head)
	}
	h.blocks = append(h.blocks, string(s.Body)+string(s.Big))
	return h.accept
}

func TestWriteHookStreamsWhileTheAppRuns(t *testing.T) {
	x := NewExchange(0)
	defer x.Close()
	h := &hookSteps{accept: true}
	x.SetWriteHook(h.hook)
	step := x.Call(environ("GET", "/write-stream"), Body{})
	// The first write(), empty as it is, sends the head (PEP 3333).
	want := []string{"", "w0", "w1", strings.Repeat("x", 100000)}
	if len(h.heads) != 1 || h.heads[0] != "200 OK|X-Streamed: yes" || strings.Join(h.blocks, ",") != strings.Join(want, ",") {
		t.Fatalf("hook got heads %q and %d blocks; want one head and %d blocks", h.heads, len(h.blocks), len(want))
	}
	if step.HasHead || step.Failed || !step.Done || string(step.Body) != "end" {
		t.Fatalf("Call's step: head=%v failed=%v done=%v body=%q; want the iterable's end without a head", step.HasHead, step.Failed, step.Done, step.Body)
	}
	x.SetWriteHook(nil)
	if _, _, got, _, _ := run(t, x, "/progress", nil); got != "sent,sent,sent,sent" {
		t.Fatalf("the app saw %s", got)
	}
}

func TestWriteHookClientGone(t *testing.T) {
	x := NewExchange(0)
	defer x.Close()
	h := &hookSteps{accept: false}
	x.SetWriteHook(h.hook)
	step := x.Call(environ("GET", "/write-stream"), Body{})
	x.SetWriteHook(nil)
	if step.Failed || !step.Done {
		t.Fatalf("the app caught the errors and returned, yet: %+v", step)
	}
	if _, _, got, _, _ := run(t, x, "/progress", nil); got != strings.Repeat("ConnectionError,", 3)+"ConnectionError" {
		t.Fatalf("write() to a gone client: the app saw %s; want ConnectionError each time", got)
	}
}

func TestWriteHookNotFromAppThreads(t *testing.T) {
	x := NewExchange(0)
	defer x.Close()
	h := &hookSteps{accept: true}
	x.SetWriteHook(h.hook)
	step := x.Call(environ("GET", "/write-thread"), Body{})
	if len(h.blocks) != 0 || !step.HasHead || string(step.Body) != "from a thread" || !step.Done {
		t.Fatalf("a thread's write() reached the hook (%q) or was lost (%q)", h.blocks, step.Body)
	}
}

func TestWriteHookNoLeak(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	x := NewExchange(0)
	defer x.Close()
	x.SetWriteHook(func(Step) bool { return true })
	for range 50 {
		x.Call(environ("GET", "/write-stream"), Body{})
	}
	x.SetWriteHook(nil)
	_, _, before, _, _ := run(t, x, "/objects", nil)
	x.SetWriteHook(func(Step) bool { return true })
	for range 3000 {
		x.Call(environ("GET", "/write-stream"), Body{})
	}
	x.SetWriteHook(nil)
	_, _, after, _, _ := run(t, x, "/objects", nil)
	if n0, n1 := atoi(t, before), atoi(t, after); n1 > n0+1000 {
		t.Fatalf("allocated Python blocks grew from %d to %d over 3000 hooked exchanges", n0, n1)
	}
}
