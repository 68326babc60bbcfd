package master

import (
	"syscall"

	"github.com/gowsgi/gowsgi/config/handoff"
	"github.com/rs/zerolog"
)

// raiseFDLimit raises the soft file descriptor limit to the hard one,
// for the workers to inherit: each idle client connection is a
// descriptor, and --worker-connections is worth tens of thousands of
// them. syscall.Setrlimit, not x/sys: it also tells os/exec to leave
// the raised limit to the workers. It logs the limit and what it leaves
// each worker.
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
	ev := log.Info()
	if limit < workerConns {
		ev = log.Warn()
	}
	ev.Uint64("nofile", rl.Cur).Int("worker_connections", workerConns).Int("connections_per_worker", limit).
		Msg("file descriptor limit")
}
