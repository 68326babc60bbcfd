package pyshim

/*
#include <stdlib.h>
#include "pyshim.h"

int gw_logging_setup(const char *source, const char *settings_json, int held, char **err);
void gw_logging_to_go(void);
int gw_logging_reopen(char **err);
int gw_logging_access_state(int *records, int *kept, char **err);
int gw_logging_access(const char *batch, size_t n, char **err);
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

// accessLine is SetAccessLineSink's, written before the worker serves
// and only read afterwards.
var accessLine func(line []byte)

// gowsgiAccessLine receives one access line a logger class's handler
// wrote (pylogging.c), without the GIL.
//
//export gowsgiAccessLine
func gowsgiAccessLine(text *C.char, n C.size_t) {
	if accessLine != nil {
		accessLine(C.GoBytes(unsafe.Pointer(text), C.int(n)))
	}
}

// SetAccessLineSink makes the access lines of a logger class's handlers
// (worker/pylogging.py, AccessLineHandler) go to sink. Call it before
// the worker serves.
func SetAccessLineSink(sink func(line []byte)) { accessLine = sink }

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

// AccessLogging reports, once Python's logging is set up and the app
// imported, whether each request's access record goes to Python's
// logging (a logging configuration is set: Gunicorn's Logger.access
// then logs on gunicorn.access), and whether gowsgi's own access lines
// stay: the handlers Gunicorn puts on gunicorn.access for accesslog and
// syslog survived the configuration and the app. Any goroutine,
// without the GIL.
func AccessLogging() (records, lines bool, err error) {
	var crec, ckept C.int
	var cerr *C.char
	if C.gw_logging_access_state(&crec, &ckept, &cerr) != 0 {
		return false, true, takeError(cerr, "asking Python's logging about the access log failed")
	}
	return crec != 0, ckept != 0, nil
}

// LogAccess writes a batch of access records through Python's logging,
// taking the GIL once: each record is its length, a uint32 in native
// byte order, then the atoms as accesslog.AppendAtoms encodes them.
// It returns the traceback of the first record that failed outright; a
// handler that raised is logged by Python, not reported. Any goroutine,
// without the GIL; after AccessLogging found the records on.
func LogAccess(batch []byte) error {
	if len(batch) == 0 {
		return nil
	}
	var cerr *C.char
	// batch holds no Go pointers and C does not keep it past the call.
	if C.gw_logging_access((*C.char)(unsafe.Pointer(&batch[0])), C.size_t(len(batch)), &cerr) != 0 {
		return takeError(cerr, "writing the access records failed")
	}
	return nil
}
