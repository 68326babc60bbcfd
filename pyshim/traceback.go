package pyshim

/*
#include "pyshim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// dumpMu serialises DumpTracebacks: faulthandler writes each dump into
// the one memory file, and skips a dump that starts while another runs.
var dumpMu sync.Mutex

// enableTracebacks registers the traceback dump (traceback.c) without
// the GIL; Adopt calls it, Init registers with the GIL it holds.
func enableTracebacks() error {
	var cerr *C.char
	if C.gw_tracebacks_register_nogil(&cerr) != 0 {
		return takeError(cerr, "cannot register the traceback signal with faulthandler")
	}
	return nil
}

// SetCrashOutput sends the report of a crash in C code (crash.c: a
// segfault in an extension module) to fd instead of stderr, as
// debug.SetCrashOutput does Go's.
func SetCrashOutput(fd uintptr) { C.gw_crash_output(C.int(fd)) }

// DumpTracebacks writes the Python stack of every thread to the file
// descriptor fd, most recent call first, in faulthandler's format:
//
//	Thread 0x00007f3a2c1ff6c0 (most recent call first):
//	  File "/srv/app/views.py", line 42 in report
//	  ...
//
// It may be called from any goroutine after Init or Adopt and never
// takes the GIL, so it works while an app thread holds the GIL forever;
// that is what it is for: telling where a stuck worker hangs before it
// is killed. Like faulthandler it reads the frames without a lock, so a
// thread that runs meanwhile can make the output torn.
func DumpTracebacks(fd uintptr) error {
	dumpMu.Lock()
	defer dumpMu.Unlock()
	var msg *C.char
	mfd := C.gw_dump_tracebacks(&msg)
	if mfd < 0 {
		return errors.New("pyshim: " + C.GoString(msg))
	}
	// Raw descriptors, not os.File: pyshim owns the memory file and the
	// caller fd, and a File's finalizer would close them.
	buf := make([]byte, 32<<10)
	for off := int64(0); ; {
		n, err := unix.Pread(int(mfd), buf, off)
		if err != nil {
			return fmt.Errorf("pyshim: reading the tracebacks: %w", err)
		}
		if n == 0 {
			if off == 0 {
				return errors.New("pyshim: faulthandler wrote no traceback")
			}
			return nil
		}
		if err := writeAll(int(fd), buf[:n]); err != nil {
			return err
		}
		off += int64(n)
	}
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("pyshim: writing the tracebacks: %w", err)
		}
		b = b[n:]
	}
	return nil
}
