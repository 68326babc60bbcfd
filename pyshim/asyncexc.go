package pyshim

/*
#include <stdlib.h>
unsigned long gw_thread_ident(void);
int gw_interrupt_thread(unsigned long ident, char **stack);
*/
import "C"

import "unsafe"

// ThreadIdent is the identity Python gives the calling OS thread
// (threading.get_ident()). Call it on the locked OS thread that runs an
// app call, to name that call's thread to Interrupt later.
func ThreadIdent() uint64 { return uint64(C.gw_thread_ident()) }

// Interrupt raises TimeoutError in the Python thread ident at its next
// bytecode (PyThreadState_SetAsyncExc), so pure-Python code unwinds; a
// thread blocked in C sees it only once the C call returns. It returns
// that thread's Python stack (most recent call last, as
// traceback.format_stack prints it; "" if unreadable) and whether the
// thread was running Python at all.
//
// It takes the GIL: call it on an OS thread locked for that purpose
// that never runs app calls (a thread state of this package's must not
// be current there), never on an app call's thread.
func Interrupt(ident uint64) (stack string, found bool) {
	var cstack *C.char
	n := C.gw_interrupt_thread(C.ulong(ident), &cstack)
	if cstack != nil {
		stack = C.GoString(cstack)
		C.free(unsafe.Pointer(cstack))
	}
	return stack, n > 0
}
