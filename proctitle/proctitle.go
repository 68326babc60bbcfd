// Package proctitle sets the title ps and top show for the process, as
// Gunicorn does with setproctitle:
//
//	Set(Title("master", "myapp", "")) → ps: "gowsgi: master [myapp]", comm: "gowsgi: master "
//
// It overwrites the memory of the original command line (see Reserve),
// which is where /proc/PID/cmdline reads from, and sets the process name
// (/proc/PID/comm, 15 bytes). A title longer than the original command
// line is cut to fit.
package proctitle

import (
	"os"
	"strings"
	"unsafe"
)

// Title formats the title of a process in role ("master" or "worker"):
// procName is --name; without it the app spec names the instance, as
// in Gunicorn.
//
//	Title("worker", "", "mysite.wsgi") → "gowsgi: worker [mysite.wsgi]"
func Title(role, procName, app string) string {
	if procName == "" {
		procName = app
	}
	return "gowsgi: " + role + " [" + procName + "]"
}

// argv is the original command line's memory, taken over by Reserve.
// Written once at the start of main, before other goroutines exist.
var argv []byte

// Reserve takes over the memory of the original command line for Set:
// it points os.Args at copies, so that nothing derived from os.Args
// afterwards (flag values, the app spec, a config sent to the workers)
// shares the bytes Set overwrites. Call it first in main.
func Reserve() {
	argv = argvArea(os.Args)
	for i, a := range os.Args {
		os.Args[i] = strings.Clone(a)
	}
}

// Set makes title the process's command line (when Reserve ran) and its
// name. A title longer than the original command line is cut to fit.
func Set(title string) error {
	n := copy(argv, title)
	clear(argv[n:])
	return setComm(title)
}

// argvArea returns the original argv strings as one writable byte
// range, from argv[0] up to (not including) the NUL after the last
// argument that is contiguous with the ones before it. The Go runtime
// makes os.Args point into that memory without copying.
func argvArea(args []string) []byte {
	if len(args) == 0 || unsafe.StringData(args[0]) == nil {
		return nil
	}
	start := unsafe.StringData(args[0])
	end := unsafe.Add(unsafe.Pointer(start), len(args[0]))
	for _, a := range args[1:] {
		p := unsafe.StringData(a)
		if p == nil || unsafe.Pointer(p) != unsafe.Add(end, 1) {
			break // not laid out by the kernel: stop at what is known
		}
		end = unsafe.Add(unsafe.Pointer(p), len(a))
	}
	return unsafe.Slice(start, uintptr(end)-uintptr(unsafe.Pointer(start)))
}

// setComm sets the name of the whole process. prctl(PR_SET_NAME) would
// rename only the calling thread, which in Go is any thread; writing
// /proc/self/comm renames the thread-group leader, which is what ps,
// top and pgrep show.
func setComm(title string) error {
	const commLen = 15 // TASK_COMM_LEN - 1
	if len(title) > commLen {
		title = title[:commLen]
	}
	return os.WriteFile("/proc/self/comm", []byte(title), 0)
}
