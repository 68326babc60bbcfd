package pyshim

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// Where says, from another goroutine, how far a call has gone into
// Python, and on which thread, as the --timeout log needs it: running
// on the call's own thread, waiting while another call holds the GIL,
// out once it is over.
func TestWhereTellsTheStageAndThread(t *testing.T) {
	x := NewExchange(0)
	defer x.Close()
	if stage, thread := x.Where(); stage != StageOut || thread != 0 {
		t.Fatalf("before any call: %v %#x; want out", stage, thread)
	}
	var stage Stage
	var thread, own uint64
	x.SetWriteHook(func(Step) bool { stage, thread = x.Where(); own = ThreadIdent(); return true })
	x.Call(environ("GET", "/write"), Body{})
	x.SetWriteHook(nil)
	if stage != StageRunning || thread == 0 || thread != own {
		t.Fatalf("inside the call: %v %#x; want running on its thread %#x", stage, thread, own)
	}
	if stage, thread := x.Where(); stage != StageOut || thread != 0 {
		t.Fatalf("after the call: %v %#x; want out", stage, thread)
	}

	// holder holds the GIL (in C, hold-gil) from the byte it writes on
	// held until one arrives on release.
	held, heldW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	releaseR, release, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	defer heldW.Close()
	defer releaseR.Close()
	defer release.Close()
	holder, waiter := NewExchange(0), NewExchange(0)
	defer holder.Close()
	defer waiter.Close()
	done := make(chan string, 2)
	fds := []string{"HOLD_W", strconv.Itoa(int(heldW.Fd())), "HOLD_R", strconv.Itoa(int(releaseR.Fd()))}
	go func() {
		step := holder.Call(environ("GET", "/hold-gil", fds...), Body{})
		done <- string(step.Body)
	}()
	if _, err := held.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	go func() {
		step := waiter.Call(environ("GET", "/hello"), Body{})
		done <- string(step.Body)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		stage, thread := waiter.Where()
		if stage == StageWaiting {
			hs, ht := holder.Where()
			if thread == 0 || hs != StageRunning || ht == thread {
				t.Errorf("waiting on %#x while the holder is %v on %#x; want two threads", thread, hs, ht)
			}
			break
		}
		if stage == StageRunning || time.Now().After(deadline) {
			t.Fatalf("a call behind a held GIL is %v; want waiting", stage)
		}
		time.Sleep(time.Millisecond)
	}
	release.Write([]byte{1})
	got := map[string]bool{<-done: true, <-done: true}
	if !got["released"] || !got["hello"] {
		t.Fatalf("the calls answered %v", got)
	}
	for _, e := range []*Exchange{holder, waiter} {
		if stage, _ := e.Where(); stage != StageOut {
			t.Fatalf("a finished call is %v; want out", stage)
		}
	}
}
