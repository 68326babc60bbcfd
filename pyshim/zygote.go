package pyshim

/*
#include <stdlib.h>
#include "pyshim.h"
#include "zygote.h"
*/
import "C"

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The zygote's contract with the master (see zygote.h); package worker
// checks these against handoff.
const (
	// ZygoteSocketFD is where ExecZygote expects the socket to the master.
	ZygoteSocketFD = int(C.GW_ZYGOTE_SOCKET_FD)
	// ForkedFirstFD is where a forked worker finds the first descriptor
	// of its spawn request.
	ForkedFirstFD = int(C.GW_WORKER_FIRST_FD)
	// ZygoteEnv marks the zygote process; the zygote removes it.
	ZygoteEnv = C.GW_ZYGOTE_ENV
)

// ZygoteSpec is what the zygote needs to import the app: everything the
// worker's Go side would pass to Init and LoadApp, resolved beforehand
// because the zygote runs before the Go runtime exists.
type ZygoteSpec struct {
	Program    string // Options.Program
	Executable string // Options.Executable; "" for the default (EmbeddedPython)
	App        string
	Paths      []string // prepended to sys.path
	// Multithread: the app runs on several threads at once (--threads > 1).
	Multithread bool
	// GCFreeze calls gc.freeze() after the import.
	GCFreeze bool
	// Kind is LoadApp's kind.
	Kind AppKind
	// LoggingSource and Logging are SetupLogging's source and
	// settingsJSON, run before the import; none when Logging is "".
	LoggingSource, Logging string
	// Listeners is how many listening sockets each worker gets; the
	// zygote keeps their fd numbers free of the app's files.
	Listeners int
	// FailCode, when not 0, is an exit code: the zygote imports
	// nothing, reports FailReason to the master and forks workers that
	// exit with FailCode, so a setup failure reaches the master like a
	// failed worker.
	FailCode   int
	FailReason string
}

// block encodes s for zygote.c: NUL-terminated fields in the order of
// its F_* enum, then the paths.
func (s *ZygoteSpec) block() []byte {
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	fields := []string{"gowsgi-zygote-4", strconv.Itoa(s.FailCode), s.FailReason,
		s.Program, cmp.Or(s.Executable, defaultExecutable()), s.App, flag(s.Multithread), flag(s.GCFreeze),
		strconv.Itoa(int(s.Kind)), strconv.Itoa(s.Listeners), bootstrapSource, s.LoggingSource, s.Logging}
	fields = append(fields, s.Paths...)
	var b []byte
	for _, f := range fields {
		b = append(b, f...)
		b = append(b, 0)
	}
	return b
}

// ExecZygote replaces the calling process with the zygote: the same
// binary with argv and env plus the ZygoteEnv marker, its spec on fd
// GW_ZYGOTE_BOOT_FD. The socket to the master must already be at
// ZygoteSocketFD without close-on-exec; every other descriptor Go opened
// closes on exec. It returns only on failure.
func ExecZygote(spec *ZygoteSpec, argv, env []string) error {
	for _, f := range append([]string{spec.Program, spec.Executable, spec.App, spec.FailReason, spec.LoggingSource,
		spec.Logging}, spec.Paths...) {
		if strings.IndexByte(f, 0) >= 0 {
			return fmt.Errorf("pyshim: zygote setting %q holds a NUL byte", f)
		}
	}
	fd, err := unix.MemfdCreate("gowsgi-zygote", 0)
	if err != nil {
		return fmt.Errorf("pyshim: zygote boot block: %w", err)
	}
	f := os.NewFile(uintptr(fd), "zygote-boot")
	if _, err := f.Write(spec.block()); err != nil {
		f.Close()
		return fmt.Errorf("pyshim: zygote boot block: %w", err)
	}
	if fd != C.GW_ZYGOTE_BOOT_FD {
		if err := unix.Dup3(fd, C.GW_ZYGOTE_BOOT_FD, 0); err != nil {
			f.Close()
			return fmt.Errorf("pyshim: zygote boot block: %w", err)
		}
		f.Close()
	}
	env = append(env[:len(env):len(env)], ZygoteEnv+"=1")
	return syscall.Exec("/proc/self/exe", argv, env)
}

// Preloaded reports whether this process is a worker forked by the
// zygote: Python is initialised, the app imported and the GIL free, so
// the worker calls Adopt instead of Init and LoadApp.
func Preloaded() bool { return C.gw_preloaded != 0 }

// ErrNotPreloaded: Adopt in a process the zygote did not fork.
var ErrNotPreloaded = errors.New("pyshim: not a worker forked by the zygote")

// Adopt is Init for a preloaded worker: it sets what Init would set
// besides the interpreter (EnvironKeys, Errors); the rest of opt was
// the zygote's business. Any goroutine; the GIL is taken and released.
func Adopt(opt Options) error {
	if !Preloaded() {
		return ErrNotPreloaded
	}
	if len(opt.EnvironKeys) > 255 {
		return errors.New("pyshim: more than 255 well-known environ keys")
	}
	defaultErrors = opt.Errors
	logToGo(opt.Log)
	return internEnvironKeys(opt.EnvironKeys)
}

// internEnvironKeys makes keys the well-known environ keys (ids 1..n),
// taking and releasing the GIL; on failure the previous keys stay. Any
// goroutine, no response open.
func internEnvironKeys(keys []string) error {
	ckeys, free := cStrings(keys)
	defer free()
	var cerr *C.char
	if C.gw_adopt(ckeys, C.int(len(keys)), &cerr) != 0 {
		return takeError(cerr, "out of memory interning environ keys")
	}
	// Only now: the Go runtime took every signal handler when it
	// started, after the zygote forked this process.
	if err := enableTracebacks(); err != nil {
		return err
	}
	C.gw_signals_capture() // Go's, which ReclaimSignals keeps (signals.go)
	return nil
}
