package pyshim

/*
#include <stdlib.h>
#include "pyshim.h"

int gw_logging_setup(const char *source, const char *settings_json, int held, char **err);
void gw_logging_to_go(void);
int gw_logging_reopen(char **err);
*/
import "C"

import "unsafe"

// pythonLog is Options.Log, written once by Init or Adopt before any
// record can reach it and only read afterwards.
var pythonLog func(level int, logger, text string)

// gowsgiPythonLog receives one record that Python's logging wrote to
// gowsgi's error log (pylogging.c), without the GIL, on the thread that
// logged.
//
//export gowsgiPythonLog
func gowsgiPythonLog(level C.int, name *C.char, text *C.char, n C.size_t) {
	if pythonLog != nil {
		pythonLog(int(level), C.GoString(name), C.GoStringN(text, C.int(n)))
	}
}

// logToGo sends the records of Python's logging to log from now on;
// before, in the --preload zygote, they go to stderr.
func logToGo(log func(level int, logger, text string)) {
	pythonLog = log
	C.gw_logging_to_go()
}

// SetupLogging runs the logging module source (worker/pylogging.py) in
// the interpreter, whose setup() reads settingsJSON and sets up Python's
// logging. The zygote does the same before it imports the app
// (ZygoteSpec.Logging). held as for LoadHooks.
func SetupLogging(source, settingsJSON string, held bool) error {
	csrc, cset := C.CString(source), C.CString(settingsJSON)
	defer C.free(unsafe.Pointer(csrc))
	defer C.free(unsafe.Pointer(cset))
	var cerr *C.char
	if C.gw_logging_setup(csrc, cset, cBool(held), &cerr) != 0 {
		return takeError(cerr, "setting up Python's logging failed")
	}
	return nil
}

// ReopenLogFiles reopens the files of Python's logging by name (USR1).
// Any goroutine, without the GIL.
func ReopenLogFiles() error {
	var cerr *C.char
	if C.gw_logging_reopen(&cerr) != 0 {
		return takeError(cerr, "reopening Python's log files failed")
	}
	return nil
}
