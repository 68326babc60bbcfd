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
