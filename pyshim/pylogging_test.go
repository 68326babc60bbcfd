package pyshim

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestPythonLogReachesGo: the emit function SetupLogging gives the
// logging module hands each record to Options.Log, from any Python
// thread, and ReopenLogFiles calls the module's reopen().
func TestPythonLogReachesGo(t *testing.T) {
	type record struct {
		level        int
		logger, text string
	}
	var mu sync.Mutex
	var got []record
	saved := pythonLog
	pythonLog = func(level int, logger, text string) {
		mu.Lock()
		got = append(got, record{level, logger, text})
		mu.Unlock()
	}
	defer func() { pythonLog = saved }()

	const source = `
import threading
reopened = 0

def setup(settings, emit):
    emit(20, "main", settings)
    t = threading.Thread(target=emit, args=(40, "thread", "é\n2"))
    t.start()
    t.join()

def reopen():
    global reopened
    reopened += 1
    emit_reopened(reopened)
`
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := SetupLogging(source+"\ndef emit_reopened(n): raise ValueError('reopened %d' % n)\n", "the settings", false); err != nil {
		t.Fatal(err)
	}
	want := []record{{20, "main", "the settings"}, {40, "thread", "é\n2"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("records %v, want %v", got, want)
	}
	err := ReopenLogFiles()
	if err == nil || !strings.Contains(err.Error(), "ValueError: reopened 1") {
		t.Errorf("ReopenLogFiles: %v; want the error reopen() raised", err)
	}
}
