package master

import (
	"cmp"
	"os"
	"os/signal"
	"syscall"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// ServerSoftware is os.environ["SERVER_SOFTWARE"] in every process the
// master starts (Gunicorn sets "gunicorn/VERSION"); WSGI's environ says
// "gowsgi".
const ServerSoftware = "gowsgi (gunicorn-compatible)"

// Exit codes of the master beyond those in handoff.
const ExitBindError = 1

// Run binds the listeners (or inherits them from systemd or from the
// master that started this one with USR2), starts and supervises the
// workers, and returns the process exit code once stopped. args is the
// command line without argv[0]: HUP resolves the configuration from it
// again, USR2 passes it to the new binary.
func Run(cfg *config.Config, elog *errorlog.Log, args []string) int {
	// As Gunicorn's arbiter does, for the apps and libraries that test
	// `"gunicorn" in os.environ.get("SERVER_SOFTWARE", "")` to hand their
	// logging to the gunicorn.error logger gowsgi also provides; every
	// child inherits it, and -e SERVER_SOFTWARE=... still wins there.
	os.Setenv("SERVER_SOFTWARE", ServerSoftware)
	sd, err := openStatsd(cfg, elog) // statsd.go; before the first logger, which counts its lines
	if err != nil {
		log := elog.Logger("master")
		log.Error().Err(err).Msg("cannot start StatsD")
		return ExitBindError
	}
	log := elog.Logger("master")
	if err := loadTLS(cfg); err != nil { // tls.go
		log.Error().Err(err).Msg("cannot serve TLS")
		return ExitBindError
	}
	watchStatsd(sd, log)
	defer closeStatsd(sd, log)
	raiseFDLimit(log, cfg.WorkerConnections)
	warnAddressSpaceLimit(log)
	p := currentProcess(args)
	// Server hooks, as Gunicorn's arbiter runs them: on_starting before
	// the listeners, when_ready once they listen, on_exit at the end.
	hooks := &arbiter{log: log, cur: &generation{cfg: cfg, want: cfg.Workers}}
	if err := hooks.startHooks(cfg); err != nil {
		log.Error().Err(err).Msg("the server hooks failed before the start; stopping")
		hooks.hooks.end()
		return ExitHookError
	}
	defer func() { hooks.hooks.end() }()
	ls, err := openListeners(cfg, p, log)
	if err != nil {
		log.Error().Err(err).Msg("cannot listen")
		return ExitBindError
	}
	sets := newListenerSets(ls)
	defer func() { closeListeners(sets.all()) }()
	if sd != nil && cfg.EnableBacklogMetric {
		defer startBacklog(sd, sets)() // statsd.go; stopped before the listeners close
	}
	for _, l := range ls {
		log.Info().Str("address", l.addr).Msg(errorlog.MsgListening)
	}
	// Orphans of the workers (an app's subprocesses) are reaped here, and
	// as PID 1 in a container so are any others.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		log.Warn().Err(err).Msg("cannot become a child subreaper")
	}
	pf, err := writePidfile(cfg.Pidfile, p.pid, p.parentPID != 0)
	if err != nil {
		log.Error().Err(err).Str("pidfile", cfg.Pidfile).Msg("cannot write the pidfile")
		return ExitBindError
	}

	sigs := make(chan os.Signal, 64)
	// SIGPIPE is handled so that a log reader going away (a pipe to a
	// shipper that exits) makes the master's log writes fail with EPIPE:
	// unhandled, Go ends the program at a broken pipe on fd 1 or 2.
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP,
		syscall.SIGCHLD, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGUSR1, syscall.SIGUSR2,
		syscall.SIGWINCH, syscall.SIGPIPE)
	defer signal.Stop(sigs)
	events := make(chan event, 256)
	if p.parentPID != 0 {
		go watchParent(p.parentPID, events)
	}
	if cfg.Reload {
		done := make(chan struct{})
		defer close(done)
		w, notices := newCodeWatch(cfg, cmp.Or(cfg.Chdir, p.cwd))
		for _, n := range notices {
			log.Warn().Msg(n)
		}
		go watchCode(w, events, done)
	}

	if err := hooks.hooks.run(hookCall{Hook: "when_ready", Server: hooks.serverState()}); err != nil {
		pf.remove()
		return ExitHookError
	}
	pass, err := newPassPair()
	if err != nil {
		log.Warn().Err(err).Msg("the workers cannot pass each other connections")
	}
	defer pass.close()
	env := newRealOS(p, sets, pass, pf, elog, events)
	a := newArbiter(log, env, cfg)
	a.statsd = sd
	a.hooks, hooks.hooks = hooks.hooks, nil
	stopOps, err := startOps(a, cfg, events)
	if err != nil {
		log.Error().Err(err).Msg("cannot listen")
		pf.remove()
		return ExitBindError
	}
	defer stopOps()
	code := a.loop(sigs, events)
	env.endHelpers()
	if err := a.hooks.run(hookCall{Hook: "on_exit", Server: a.serverState()}); err != nil && code == 0 {
		code = ExitHookError
	}
	defer a.hooks.end()
	if !a.handedOver() {
		removeSocketFiles(sets.all())
		pf.remove()
	}
	log.Info().Int("exit_code", code).Msg(errorlog.MsgStopped)
	return code
}

// openListeners inherits the listeners from an upgrading master or from
// systemd, or else binds cfg.Bind.
func openListeners(cfg *config.Config, p *process, log zerolog.Logger) ([]*listener, error) {
	defer func() {
		for _, v := range inheritedVars {
			os.Unsetenv(v)
		}
	}()
	ls, err := inheritFromOldMaster(p)
	if err != nil || ls != nil {
		if ls != nil {
			log.Info().Int("listeners", len(ls)).Int("old_master_pid", p.parentPID).
				Msg("upgrade: serving the listeners of the old master")
		}
		return ls, err
	}
	ls, err = systemdListeners(p)
	if err != nil || ls != nil {
		if ls != nil {
			log.Info().Int("listeners", len(ls)).Strs("bind", cfg.Bind).
				Msg("using the sockets systemd passed (LISTEN_FDS); the bind setting is ignored")
		}
		return ls, err
	}
	return bind(cfg.Bind, cfg.Backlog, cfg.ReusePort, cfg.Umask)
}
