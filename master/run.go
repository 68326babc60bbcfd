package master

import (
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/gowsgi/gowsgi/config"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// Exit codes of the master beyond those in handoff.
const ExitBindError = 1

// Run binds the listeners, starts and supervises the workers, and
// returns the process exit code once stopped.
func Run(cfg *config.Config, log zerolog.Logger) int {
	ls, err := bind(cfg.Bind, cfg.Backlog, cfg.ReusePort)
	if err != nil {
		log.Error().Err(err).Msg("cannot listen")
		return ExitBindError
	}
	defer removeUnixSockets(ls)
	defer closeListeners(ls)
	for _, l := range ls {
		log.Info().Str("address", l.addr).Msg("listening")
	}
	// Orphans of the workers (an app's subprocesses) are reaped here, and
	// as PID 1 in a container so are any others.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		log.Warn().Err(err).Msg("cannot become a child subreaper")
	}
	if cfg.Pidfile != "" {
		if err := os.WriteFile(cfg.Pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			log.Error().Err(err).Str("pidfile", cfg.Pidfile).Msg("cannot write the pidfile")
			return ExitBindError
		}
		defer os.Remove(cfg.Pidfile)
	}

	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP,
		syscall.SIGCHLD, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGUSR1, syscall.SIGUSR2,
		syscall.SIGWINCH)
	defer signal.Stop(sigs)

	events := make(chan event, 64)
	env, err := newRealOS(cfg, ls, events)
	if err != nil {
		log.Error().Err(err).Msg("cannot start workers")
		return ExitBindError
	}
	a := newArbiter(log, env, events, cfg.Workers, cfg.GracefulTimeout)
	code := a.loop(sigs)
	log.Info().Int("exit_code", code).Msg("stopped")
	return code
}

func removeUnixSockets(ls []listener) {
	for _, l := range ls {
		if l.unlink != "" {
			os.Remove(l.unlink)
		}
	}
}
