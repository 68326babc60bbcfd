// Package pyshimtest holds the C test helpers of pyshim's tests: a raw
// allocator that fails on request, a GIL probe, and a way to run Go
// code on a brand-new OS thread (one with no cached Python thread
// state). Only pyshim's _test.go files import it, so it is linked into
// test binaries and never into gowsgi; that is why it is a package of
// its own rather than cgo code in pyshim (import "C" cannot appear in a
// _test.go file).
//
// Its functions need an initialized interpreter (pyshim.Init).
package pyshimtest

/*
#cgo pkg-config: python3-embed
#include "helpers.h"
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"sync"
	"syscall"
)

var installOnce sync.Once

// FailNextRawCalloc makes the next PyMem_RawCalloc on the calling OS
// thread return NULL, as when memory is exhausted; PyThreadState_New
// and pyshim's environ key table allocate that way. The caller must
// stay on its OS thread (runtime.LockOSThread, or RunOnNewThread) until
// the allocation it aims at has run. The first call installs the
// failing allocator: no other thread may be inside Python then.
func FailNextRawCalloc() {
	installOnce.Do(func() { C.install_failing_calloc() })
	C.arm_failing_calloc()
}

// Armed reports whether the calling thread's failure is still waiting
// for its allocation: false once a RawCalloc has failed.
func Armed() bool { return C.failing_calloc_armed() != 0 }

// GILHeld reports whether the calling OS thread holds the GIL
// (PyGILState_Check).
func GILHeld() bool { return C.gil_held() != 0 }

// PythonVersion is the major and minor version of the libpython loaded.
func PythonVersion() (major, minor int) {
	v := int(C.py_version_hex())
	return v >> 24, v >> 16 & 0xff
}

// RunOnNewThread runs f on a new OS thread, created for it with
// pthread_create, and returns when f has returned and the thread has
// ended. A Go goroutine cannot be sure of such a thread: the runtime
// reuses threads, and pyshim caches a thread state per OS thread.
func RunOnNewThread(f func()) error {
	h := cgo.NewHandle(f)
	defer h.Delete()
	if rc := C.run_on_new_thread(C.uintptr_t(h)); rc != 0 {
		return fmt.Errorf("pyshimtest: pthread_create or pthread_join: %w", syscall.Errno(rc))
	}
	return nil
}

//export pyshimtestRun
func pyshimtestRun(h C.uintptr_t) {
	cgo.Handle(h).Value().(func())()
}
