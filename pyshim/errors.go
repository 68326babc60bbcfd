package pyshim

/*
#include "pyshim.h"
*/
import "C"

import (
	"os"
	"runtime/cgo"
)

// defaultErrors is Options.Errors, written once by Init before any
// exchange and only read afterwards.
var defaultErrors func(text string)

// gowsgiErrorsWrite receives complete lines an app wrote to wsgi.errors
// (see errors.c), without their last newline. It runs on the thread
// that wrote, which may be one the app started, without the GIL; or
// with it, for the partial line of a stream being deallocated (a
// tp_dealloc must not release the GIL): so it never calls Python. ctx
// is the writing Exchange's handle, or 0 once the Exchange is closed.
//
//export gowsgiErrorsWrite
func gowsgiErrorsWrite(ctx C.uintptr_t, text *C.char, n C.size_t) {
	s := C.GoStringN(text, C.int(n))
	if ctx != 0 {
		if x := cgo.Handle(ctx).Value().(*Exchange); x.errors != nil {
			x.errors(s)
			return
		}
	}
	if defaultErrors != nil {
		defaultErrors(s)
		return
	}
	os.Stderr.WriteString(s + "\n")
}
