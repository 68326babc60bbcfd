package pyshim

/*
#include <stdlib.h>
unsigned long gw_thread_ident(void);
int gw_interrupt_thread(unsigned long ident, const long long *running, long long started, char **stack);
*/
import "C"

import (
	"sync/atomic"
	"unsafe"
)

// ThreadIdent is the identity Python gives the calling OS thread
// (threading.get_ident()). Call it on the locked OS thread that runs an
// app call, to name that call's thread to Interrupt later.
func ThreadIdent() uint64 { return uint64(C.gw_thread_ident()) }

// Interrupt raises TimeoutError in the Python thread ident at its next
// bytecode (PyThreadState_SetAsyncExc), so pure-Python code unwinds; a
// thread blocked in C sees it only once the C call returns. It does so
// only if, with the GIL held, *running still equals started (the caller
// keeps there the start of the call it means, and changes it when the
// call ends) and the thread is inside Python code: an exception left
// pending on a thread between calls would hit its next request. It
// returns that thread's Python stack (most recent call last, as
// traceback.format_stack prints it) and whether the exception was
// scheduled.
//
// It takes the GIL: call it on an OS thread locked for that purpose
// that runs no app call, never on an app call's thread. running is read
// atomically by C during the call and must stay valid until it returns.
func Interrupt(ident uint64, running *atomic.Int64, started int64) (stack string, raised bool) {
	var cstack *C.char
	// An atomic.Int64 is its int64 at offset 0; C reads it with
	// __atomic_load_n as Go writes it with atomic stores.
	ptr := (*C.longlong)(unsafe.Pointer(running))
	n := C.gw_interrupt_thread(C.ulong(ident), ptr, C.longlong(started), &cstack)
	if cstack != nil {
		stack = C.GoString(cstack)
		C.free(unsafe.Pointer(cstack))
	}
	return stack, n > 0
}
