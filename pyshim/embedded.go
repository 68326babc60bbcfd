package pyshim

/*
#define _GNU_SOURCE // dladdr
#include "pyshim.h"
#include <dlfcn.h>

// gw_libpython is the file that holds the C API: the shared libpython,
// or this executable when libpython is built in. "" if unknown.
static const char *gw_libpython(void)
{
	Dl_info info;

	if (dladdr((void *)&Py_GetVersion, &info) == 0 || info.dli_fname == NULL)
		return "";
	return info.dli_fname;
}
*/
import "C"

import (
	"os"
	"path/filepath"
	"strings"
)

// builtFor is the interpreter this binary was built for: sys.executable
// of make build's PYTHON, set with
// -ldflags "-X github.com/gowsgi/gowsgi/pyshim.builtFor=/usr/bin/python3".
// "" for a plain go build.
var builtFor string

// Embedded describes the CPython this binary embeds.
type Embedded struct {
	// Version is the version of the libpython in use: "3.13.0".
	Version string
	// Interpreter is the python this binary was built for ("" when not
	// known): sys.executable of an app when no virtualenv is in use.
	Interpreter string
	// Library is the shared libpython loaded, "" when libpython is
	// built into the binary.
	Library string
}

// EmbeddedPython describes the embedded CPython. It runs no Python code
// and needs no interpreter: the master may call it.
func EmbeddedPython() Embedded {
	v, _, _ := strings.Cut(C.GoString(C.Py_GetVersion()), " ")
	e := Embedded{Version: v, Interpreter: builtFor}
	if lib := C.GoString(C.gw_libpython()); strings.HasPrefix(filepath.Base(lib), "libpython") {
		e.Library = lib
	}
	return e
}

// Linking is "static libpython" or "shared libpython PATH".
func (e Embedded) Linking() string {
	if e.Library == "" {
		return "static libpython"
	}
	return "shared libpython " + e.Library
}

// String is one line for gowsgi --version:
//
//	CPython 3.13.0 (shared libpython /opt/py/lib/libpython3.13.so.1.0), built for /opt/py/bin/python3
func (e Embedded) String() string {
	s := "CPython " + e.Version + " (" + e.Linking() + ")"
	if e.Interpreter != "" {
		s += ", built for " + e.Interpreter
	}
	return s
}

// defaultExecutable is PyConfig.executable when no virtualenv is in use:
// the interpreter this binary was built for, so that sys.executable (and
// everything that starts "this Python" again: subprocess, multiprocessing
// spawn and forkserver) is a real python, not gowsgi. "" when it is not
// known or no longer there: sys.executable is then this binary, as
// CPython makes it.
func defaultExecutable() string {
	if builtFor == "" {
		return ""
	}
	if fi, err := os.Stat(builtFor); err != nil || fi.IsDir() {
		return ""
	}
	return builtFor
}
