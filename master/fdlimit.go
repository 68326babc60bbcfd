package master

import (
	"syscall"

	"github.com/gowsgi/gowsgi/handoff"
	"github.com/rs/zerolog"
)

// raiseFDLimit raises the soft file descriptor limit to the hard one:
// each idle client connection is a descriptor, and --worker-connections
// is worth tens of thousands of them. The Go runtime has usually done so
// already, in the master and again in each worker it starts (a worker
// is a Go program too). It logs the limit and the connections it leaves
// each worker: an Info line, as the default --worker-connections is
// meant to meet the limit on many machines.
func raiseFDLimit(log zerolog.Logger, workerConns int) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		log.Warn().Err(err).Msg("cannot read the file descriptor limit")
		return
	}
	if rl.Cur < rl.Max {
		raised := syscall.Rlimit{Cur: rl.Max, Max: rl.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			log.Warn().Err(err).Uint64("soft", rl.Cur).Uint64("hard", rl.Max).
				Msg("cannot raise the file descriptor limit")
		} else {
			rl = raised
		}
	}
	limit := handoff.ConnLimit(workerConns, rl.Cur)
	log.Info().Uint64("nofile", rl.Cur).Int("worker_connections", workerConns).Int("connections_per_worker", limit).
		Msg("file descriptor limit")
}

// addressSpaceFloor is the address-space limit (ulimit -v, RLIMIT_AS)
// under which gowsgi warns at start: each process, the Go runtime with
// libpython and its threads' stacks, reserves about 2 GiB it never uses
// (an idle master's VmSize is 1.8 GB at 17 MB resident), and under a
// tighter limit a new thread fails ("runtime/cgo: pthread_create
// failed") with a Go crash dump that names no cause. Gunicorn's Python
// processes start under 200 MB.
const addressSpaceFloor = 4 << 30

// warnAddressSpaceLimit says so when the limit is below the floor (no
// limit, RLIM_INFINITY, is the largest value).
func warnAddressSpaceLimit(log zerolog.Logger) {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_AS, &rl) != nil || rl.Cur >= addressSpaceFloor {
		return
	}
	log.Warn().Uint64("as_limit_mib", rl.Cur>>20).
		Msg("an address-space limit (ulimit -v) under 4 GiB may stop gowsgi's processes from starting threads " +
			"(\"pthread_create failed\"): the Go runtime reserves address space it does not use; limit memory " +
			"with --max-worker-memory or a cgroup (systemd MemoryMax=) instead, which count the memory used")
}
