package pyshim

/*
#include <Python.h>
const char *gw_dump_tracebacks(int fd);
*/
import "C"

import "errors"

// DumpTracebacks writes the Python stack of every thread to the file
// descriptor fd, most recent call first, in faulthandler's format:
//
//	Thread 0x00007f3a2c1ff6c0 (most recent call first):
//	  File "/srv/app/views.py", line 42 in report
//	  ...
//
// It may be called from any goroutine and never takes the GIL, so it
// works while an app thread holds the GIL forever; that is what it is
// for: telling where a stuck worker hangs before it is killed. Like
// faulthandler it reads the frames without a lock, so a thread that
// runs meanwhile can make the output torn.
func DumpTracebacks(fd uintptr) error {
	if msg := C.gw_dump_tracebacks(C.int(fd)); msg != nil {
		return errors.New("pyshim: " + C.GoString(msg))
	}
	return nil
}
