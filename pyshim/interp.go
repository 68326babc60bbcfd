package pyshim

/*
#cgo pkg-config: python3-embed
#include <stdlib.h>
#include "pyshim.h"
*/
import "C"

import (
	"cmp"
	_ "embed"
	"errors"
	"fmt"
	"syscall"
	"unsafe"
)

//go:embed bootstrap.py
var bootstrapSource string

// Options configure the embedded interpreter.
type Options struct {
	// Program is sys.argv[0] and PyConfig.program_name.
	Program string
	// Executable, when set, is PyConfig.executable: a virtualenv's
	// bin/python makes the interpreter use that venv's site-packages.
	// When empty, the python this binary was built for (EmbeddedPython).
	Executable string
	// EnvironKeys are the well-known environ keys; an encoded environ
	// refers to EnvironKeys[i] by the id i+1.
	EnvironKeys []string
	// Errors receives the lines apps write to wsgi.errors, one or more
	// at a time without the final newline, unless the Exchange has its
	// own sink (SetErrors). It runs without the GIL on the writing
	// thread. nil writes them to standard error.
	Errors func(text string)
	// Log receives the records Python's logging writes to gowsgi's error
	// log (SetupLogging): the level number (logging.INFO is 20), the
	// logger's name and the text. It runs without the GIL on the thread
	// that logged. nil drops them.
	Log func(level int, logger, text string)
}

// AppError is a Python exception raised while starting the interpreter
// or loading the app; Traceback is Python's own formatting of it.
type AppError struct {
	Traceback string
	// NoApp: the app's module imported, but the spec names nothing that
	// can serve (no such attribute, not callable, the other kind of app,
	// a factory's arguments that do not fit). Gunicorn exits 4 for
	// those, and 3 for an exception the import raised.
	NoApp bool
}

func (e *AppError) Error() string { return "pyshim: " + e.Traceback }

// takeError converts a malloc'd C error text into an *AppError and
// frees it.
func takeError(cerr *C.char, fallback string) error {
	if cerr == nil {
		return &AppError{Traceback: fallback}
	}
	defer C.free(unsafe.Pointer(cerr))
	return &AppError{Traceback: C.GoString(cerr)}
}

// Init starts CPython on the calling OS thread, which must be locked
// (runtime.LockOSThread) and stays the holder of the GIL until
// ReleaseMain. Python installs no signal handlers: Go owns them.
func Init(opt Options) error {
	defaultErrors = opt.Errors
	logToGo(opt.Log)
	cprog := C.CString(opt.Program)
	defer C.free(unsafe.Pointer(cprog))
	var cexe *C.char
	if exe := cmp.Or(opt.Executable, defaultExecutable()); exe != "" {
		cexe = C.CString(exe)
		defer C.free(unsafe.Pointer(cexe))
	}
	csrc := C.CString(bootstrapSource)
	defer C.free(unsafe.Pointer(csrc))
	var cerr *C.char
	if C.gw_initialize(cprog, cexe, csrc, &cerr) != 0 {
		return takeError(cerr, "the Python interpreter failed to start")
	}
	if C.gw_tracebacks_register() != 0 {
		var n C.size_t
		return takeError(C.gw_format_exception(&n), "cannot register the traceback signal with faulthandler")
	}
	if err := captureSignals(); err != nil { // signals.go
		return fmt.Errorf("pyshim: giving Python's signal module the worker's stop handler: %w", err)
	}
	if len(opt.EnvironKeys) > 255 {
		return errors.New("pyshim: more than 255 well-known environ keys")
	}
	keys, free := cStrings(opt.EnvironKeys)
	defer free()
	if C.gw_set_environ_keys(keys, C.int(len(opt.EnvironKeys)), &cerr) != 0 {
		return takeError(cerr, "out of memory interning environ keys")
	}
	return nil
}

// AppKind says which worker class will call the app LoadApp loads.
type AppKind int

// The kinds, as gw_load_app numbers them.
const (
	AppWSGI   AppKind = C.GW_APP_WSGI   // a WSGI worker: an async app is refused
	AppASGI   AppKind = C.GW_APP_ASGI   // the ASGI worker: a WSGI app is refused
	AppDetect AppKind = C.GW_APP_DETECT // none named: an async app is ASGI, any other WSGI
)

// LoadApp imports the app named by spec ("module:name",
// "module:factory(args)", "module") with paths prepended to sys.path.
// An async app for a WSGI worker, or a WSGI app for the ASGI worker, is
// an error that says which worker class it needs; AppIsASGI says which
// the app is served as. Signal handlers the import installs are undone;
// their numbers are returned so the caller can warn. Main thread, GIL
// held.
func LoadApp(spec string, paths []string, multithread bool, kind AppKind) (stolen []syscall.Signal, err error) {
	cspec := C.CString(spec)
	defer C.free(unsafe.Pointer(cspec))
	cpaths, free := cStrings(paths)
	defer free()
	var cerr *C.char
	var cstolen [16]C.int
	var nstolen C.int
	rc := C.gw_load_app(cspec, cpaths, C.int(len(paths)), cBool(multithread), C.int(kind), &cstolen[0], &nstolen, &cerr)
	stolen = signalsOf(cstolen[:nstolen])
	if rc != 0 {
		err := takeError(cerr, fmt.Sprintf("failed to load %q", spec)).(*AppError)
		err.NoApp = rc == C.GW_LOAD_NO_APP
		return stolen, err
	}
	return stolen, nil
}

// AppIsASGI reports whether the app loaded, by LoadApp or in the zygote
// this worker was forked from, is served as ASGI.
func AppIsASGI() bool { return C.gw_app_is_asgi != 0 }

// ASGIPathWithoutRoot reports whether the ASGI app loaded wants a scope
// path without root_path (Starlette before 0.33), as Uvicorn before 0.26
// built it.
func ASGIPathWithoutRoot() bool { return C.gw_asgi_path_without_root > 0 }

// PrepareImportLoop has the app LoadApp imports next see the event loop
// an ASGI worker will serve it on, of kind (--loop), as Uvicorn imports
// the app inside its loop: made now when create (the ASGI worker class
// was named), else the one the import makes current, if the app is
// ASGI. Never in a --preload zygote. Main thread, GIL held.
func PrepareImportLoop(kind string, create bool) error {
	ckind := C.CString(kind)
	defer C.free(unsafe.Pointer(ckind))
	var cerr *C.char
	if C.gw_prepare_import_loop(ckind, cBool(create), &cerr) != 0 {
		return takeError(cerr, "cannot make the event loop for the app's import")
	}
	return nil
}

// ReleaseMain releases the GIL that Init took on the main thread.
func ReleaseMain() { C.gw_release_main() }

// RunAtexit waits for the app's non-daemon threads, then runs the
// functions it registered with atexit, as Python's exit does (a Gunicorn
// worker leaves through sys.exit). Any goroutine, without the GIL; once,
// as the worker ends.
func RunAtexit() error {
	var cerr *C.char
	if C.gw_run_atexit(&cerr) != 0 {
		return takeError(cerr, "running the atexit functions failed")
	}
	return nil
}

// SetMultiprocess sets wsgi.multiprocess for the requests to come (PEP
// 3333: whether other processes may run the app at the same time, which
// Gunicorn reads as more than one worker). Call it once the app is
// loaded, without the GIL.
func SetMultiprocess(on bool) error {
	return setBaseEnviron("wsgi.multiprocess", nil, on)
}

// SetServerSoftware sets SERVER_SOFTWARE (latin-1) for the requests to
// come; as SetMultiprocess.
func SetServerSoftware(s string) error {
	return setBaseEnviron("SERVER_SOFTWARE", &s, false)
}

func setBaseEnviron(key string, value *string, on bool) error {
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	var cval *C.char
	var n C.size_t
	if value != nil {
		cval = C.CString(*value)
		defer C.free(unsafe.Pointer(cval))
		n = C.size_t(len(*value))
	}
	if C.gw_set_base_environ(ckey, cval, n, cBool(on)) != 0 {
		return errors.New("pyshim: cannot set " + key + " (out of memory)")
	}
	return nil
}

// cStrings returns a C array of C strings and a function freeing both.
func cStrings(ss []string) (**C.char, func()) {
	if len(ss) == 0 {
		return nil, func() {}
	}
	arr := (*[1 << 20]*C.char)(C.malloc(C.size_t(len(ss)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))[:len(ss):len(ss)]
	for i, s := range ss {
		arr[i] = C.CString(s)
	}
	return &arr[0], func() {
		for _, p := range arr {
			C.free(unsafe.Pointer(p))
		}
		C.free(unsafe.Pointer(&arr[0]))
	}
}
