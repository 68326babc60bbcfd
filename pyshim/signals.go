package pyshim

/*
#include <stdlib.h>
#include "pyshim.h"
*/
import "C"

import (
	"syscall"
	"unsafe"
)

// Signals in a worker (signals.c): Go handles TERM, INT, QUIT, HUP,
// USR1 and the rest; Python code that installs a handler for one of
// them with signal.signal takes it from Go at the C level. Go's are
// recorded when the interpreter starts (Init) or the worker is forked
// from the zygote (Adopt), put back by ReclaimSignals, and a handler an
// app installed for a stop signal is run by RunSignalHandler when that
// signal comes, as it would have run under Gunicorn.

// GracefulStopSignal is the master's graceful stop of a worker, kept
// Go's with the others; it must be handoff.GracefulStopSignal.
var GracefulStopSignal = syscall.Signal(C.gw_graceful_stop_signal())

// ReclaimSignals puts Go's handlers back on the signals Python code
// took since the interpreter started, and returns those signals. Any
// goroutine, with or without the GIL.
func ReclaimSignals() []syscall.Signal {
	var cstolen [16]C.int
	var n C.int
	C.gw_signals_reclaim(&cstolen[0], &n)
	return signalsOf(cstolen[:n])
}

// signalsOf converts the signal numbers C stored.
func signalsOf(cs []C.int) []syscall.Signal {
	out := make([]syscall.Signal, len(cs))
	for i, c := range cs {
		out[i] = syscall.Signal(c)
	}
	return out
}

// RunSignalHandler calls the Python handler an app installed for sig
// (signal.signal), if there is one; ran says whether there was. A
// handler that raises SystemExit is no error: the worker is stopping.
// Any goroutine, without the GIL.
func RunSignalHandler(sig syscall.Signal) (ran bool, err error) {
	var cran C.int
	var cerr *C.char
	if C.gw_signals_run_python(C.int(sig), &cran, &cerr) != 0 {
		return true, takeError(cerr, "the app's "+sig.String()+" handler raised")
	}
	return cran != 0, nil
}

// captureSignals records the handlers installed now as Go's, gives
// Python's signal module gowsgi's stop handler for TERM, INT and QUIT
// (so an app that chains to the handler it replaces finds a function),
// and registers the fork hooks of the processes the app forks.
// Main thread, GIL held.
func captureSignals() error {
	C.gw_signals_capture()
	var cerr *C.char
	if C.gw_signals_adopt_python(&cerr) != 0 || C.gw_register_fork_hooks(&cerr) != 0 {
		msg := C.GoString(cerr)
		C.free(unsafe.Pointer(cerr))
		return &AppError{Traceback: msg}
	}
	return nil
}
