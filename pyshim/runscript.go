package pyshim

/*
#include <stdlib.h>
#include "pyshim.h"

int gw_run_script(const char *program, const char *executable, const char *source,
		  int argc, char **argv);
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// RunScript runs the Python program source in this process, as
// `python3 -c source` would, with sys.argv set to argv, and returns its
// exit status. The process must not have initialised Python (no Init):
// it is for the binary's helper modes (the Python config reader, the
// hook host), which do nothing else. executable, when not empty, is a
// virtualenv's bin/python (see VirtualenvPython). CPython installs its
// own signal handlers here, as python3 does.
func RunScript(program, executable, source string, argv []string) int {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cprog := C.CString(program)
	defer C.free(unsafe.Pointer(cprog))
	var cexe *C.char
	if executable != "" {
		cexe = C.CString(executable)
		defer C.free(unsafe.Pointer(cexe))
	}
	csrc := C.CString(source)
	defer C.free(unsafe.Pointer(csrc))
	cargv, free := cStrings(argv)
	defer free()
	return int(C.gw_run_script(cprog, cexe, csrc, C.int(len(argv)), cargv))
}
