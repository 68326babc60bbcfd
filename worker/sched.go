package worker

import (
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// useBatchScheduling moves every thread of this worker from SCHED_OTHER
// to SCHED_BATCH; threads created later inherit it from their creator.
//
// Why: while Python runs an app the Go runtime sees a long cgo call, so
// its sysmon thread wakes every few tens of microseconds to take the P
// back and hand it to another thread, and on one core each of those
// wake-ups preempts the thread running Python, then lets the other
// workers in. A batch thread that wakes does not preempt the running
// one; with every worker thread batch, those wake-ups wait for the
// Python thread's slice (or the tick) instead.
// Measured in docs/worker.md ("CPU scheduling policy"). Threads with
// another policy (a real-time one set by the operator, SCHED_IDLE) are
// left as they are, and the nice value is kept.
//
// It returns the first error met; the worker runs on without the
// change then.
func useBatchScheduling() error {
	done := map[int]bool{}
	// A thread started while the list is read may have been created by
	// one not yet moved: read it again until a pass finds none new.
	for {
		tids, err := threadIDs()
		if err != nil {
			return err
		}
		fresh := 0
		for _, tid := range tids {
			if done[tid] {
				continue
			}
			done[tid] = true
			fresh++
			if err := toBatch(tid); err != nil && err != unix.ESRCH {
				return err
			}
		}
		if fresh == 0 {
			return nil
		}
	}
}

func toBatch(tid int) error {
	attr, err := unix.SchedGetAttr(tid, 0)
	if err == unix.ENOSYS || err == unix.EPERM {
		return toBatchLegacy(tid)
	}
	if err != nil {
		return err
	}
	if attr.Policy != unix.SCHED_NORMAL {
		return nil
	}
	attr.Policy = unix.SCHED_BATCH
	if err := unix.SchedSetAttr(tid, attr, 0); err == unix.ENOSYS || err == unix.EPERM {
		return toBatchLegacy(tid)
	} else if err != nil {
		return err
	}
	return nil
}

// toBatchLegacy is toBatch with sched_getscheduler and sched_setscheduler,
// for a seccomp profile that refuses the newer sched_getattr and
// sched_setattr (with EPERM or ENOSYS) and allows these, as some
// container runtimes' profiles do. For SCHED_BATCH the kernel keeps the
// thread's nice value either way (sched(7)).
func toBatchLegacy(tid int) error {
	policy, _, errno := unix.RawSyscall(unix.SYS_SCHED_GETSCHEDULER, uintptr(tid), 0, 0)
	if errno != 0 {
		return os.NewSyscallError("sched_getscheduler", errno)
	}
	if policy != unix.SCHED_NORMAL {
		return nil
	}
	var param struct{ priority int32 } // struct sched_param: 0 for SCHED_BATCH
	_, _, errno = unix.RawSyscall(unix.SYS_SCHED_SETSCHEDULER, uintptr(tid), unix.SCHED_BATCH,
		uintptr(unsafe.Pointer(&param)))
	if errno != 0 {
		return os.NewSyscallError("sched_setscheduler", errno)
	}
	return nil
}

func threadIDs() ([]int, error) {
	d, err := os.Open("/proc/self/task")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(names))
	for _, n := range names {
		if tid, err := strconv.Atoi(n); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}
