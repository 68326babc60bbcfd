package pyshim

import (
	"strings"
	"sync"
	"testing"

	"github.com/gowsgi/gowsgi/pyshim/pyshimtest"
)

// TestCallWithoutThreadState: when PyThreadState_New fails on a thread
// (it only does when memory is exhausted), the request fails with a
// clear text instead of PyEval_RestoreThread(NULL) aborting the worker,
// and the next call on that thread, with memory back, works.
//
// CPython 3.11's PyThreadState_New dereferences its own NULL when the
// allocation fails (_PyThreadState_SetCurrent(NULL); 3.12 checks it),
// so there the failure cannot be survived by any caller and the test
// runs only from 3.12 on: make test's pythons step runs it on every
// pyenv CPython 3.12+ present.
func TestCallWithoutThreadState(t *testing.T) {
	if major, minor := pyshimtest.PythonVersion(); major == 3 && minor < 12 {
		t.Skipf("CPython %d.%d's PyThreadState_New crashes itself when out of memory; needs 3.12+", major, minor)
	}
	x := NewExchange(0)
	defer x.Close()
	var first, second Step
	var armedAfter, firstHead, openAfter bool
	err := pyshimtest.RunOnNewThread(func() {
		// A thread pthread_create just made has no thread state yet:
		// gw_call's first raw calloc is PyThreadState_New's.
		pyshimtest.FailNextRawCalloc()
		first = x.Call(environ("GET", "/hello"), Body{})
		armedAfter = pyshimtest.Armed()
		firstHead, openAfter = first.HasHead, x.Open()
		second = x.Call(environ("GET", "/hello"), Body{})
		second.Body = append([]byte(nil), second.Body...)
	})
	if err != nil {
		t.Fatal(err)
	}
	if armedAfter {
		t.Fatal("the injected calloc failure was never consumed: the test did not reach PyThreadState_New")
	}
	if !first.Failed || !first.Done || firstHead || openAfter {
		t.Fatalf("call without a thread state: failed=%v done=%v head=%v open=%v; want a failed, finished, empty step",
			first.Failed, first.Done, firstHead, openAfter)
	}
	if !strings.Contains(first.Traceback, "cannot create a Python thread state") {
		t.Fatalf("traceback %q; want it to say the thread state could not be created", first.Traceback)
	}
	if second.Failed || string(second.Body) != "hello" || !second.Done {
		t.Fatalf("next call on the same thread: failed=%v body=%q done=%v %s; want hello",
			second.Failed, second.Body, second.Done, second.Traceback)
	}
}

// TestEnvironKeysOutOfMemory: gw_set_environ_keys says why it failed
// when its table cannot be allocated, and the keys of the earlier call
// stay in use (they were replaced by NULL before, and the next environ
// with a well-known key dereferenced it).
func TestEnvironKeysOutOfMemory(t *testing.T) {
	var err error
	var armedAfter bool
	if rerr := pyshimtest.RunOnNewThread(func() {
		// Take the GIL once on this thread first, so that its thread
		// state exists and the armed failure hits the key table.
		if err = internEnvironKeys(testKeys); err != nil {
			return
		}
		pyshimtest.FailNextRawCalloc()
		err = internEnvironKeys(testKeys)
		armedAfter = pyshimtest.Armed()
	}); rerr != nil {
		t.Fatal(rerr)
	}
	if armedAfter {
		t.Fatal("the injected calloc failure was never consumed")
	}
	if err == nil || !strings.Contains(err.Error(), "out of memory interning the environ keys") {
		t.Fatalf("internEnvironKeys with no memory = %v; want the C side's own message", err)
	}
	x := NewExchange(0)
	defer x.Close()
	status, _, body, failed, tb := run(t, x, "/environ", []byte("b"))
	if failed || status != "200 OK" || !strings.Contains(body, "'PATH_INFO'") || !strings.Contains(body, "'GET'") {
		t.Fatalf("environ after the failed interning: %s %q %s", status, body, tb)
	}
}

// gilSink records the lines sent to the default wsgi.errors sink and
// whether the GIL was held when each arrived.
type gilSink struct {
	mu    sync.Mutex
	lines []string
	gil   []bool
}

func (s *gilSink) write(text string) {
	held := pyshimtest.GILHeld()
	s.mu.Lock()
	s.lines = append(s.lines, text)
	s.gil = append(s.gil, held)
	s.mu.Unlock()
}

// TestErrorsDeallocKeepsGIL: a wsgi.errors stream freed with a partial
// line pending logs it without releasing the GIL inside its tp_dealloc;
// lines written normally are logged with the GIL released.
func TestErrorsDeallocKeepsGIL(t *testing.T) {
	var sink gilSink
	saved := defaultErrors
	defaultErrors = sink.write
	defer func() { defaultErrors = saved }()

	keeper := NewExchange(0)
	if _, _, _, failed, tb := run(t, keeper, "/errors-keep", nil); failed {
		t.Fatal(tb)
	}
	keeper.Close() // the app still holds the stream; it now logs to the default sink

	x := NewExchange(0)
	defer x.Close()
	if _, _, _, failed, tb := run(t, x, "/errors-drop", nil); failed {
		t.Fatal(tb)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.lines) != 1 || sink.lines[0] != "left in a dropped stream" {
		t.Fatalf("default sink got %q; want the dropped stream's partial line", sink.lines)
	}
	if !sink.gil[0] {
		t.Fatal("the dealloc of wsgi.errors released the GIL to log its partial line")
	}
}
