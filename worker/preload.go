package worker

import (
	"fmt"
	"net"
	"os"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/engine"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/handoff"
	"github.com/gowsgi/gowsgi/proctitle"
	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/gowsgi/gowsgi/wsgi"
	"github.com/rs/zerolog"
)

// Zygote runs the process the master starts for --preload
// (handoff.ZygoteCommand) and returns its exit code if it fails to
// become the zygote. It does in Go what a worker does before Python
// starts: as the master's user it gives the unix sockets their owner
// and creates the log files, then it drops privileges, so the forked
// workers are never root; then it applies --env, resolves the
// virtualenv and changes directory. The workers open the log files as
// --user, so with --preload their directories must be searchable by it
// (as USR1's reopening needs anyway). Then it re-executes the binary as the zygote (pyshim),
// which imports the app before any Go runtime exists and forks the
// workers. A setup failure still execs the zygote, which reports it to
// the master and hands out workers that exit with the failure's code,
// as workers that cannot boot do without --preload.
func Zygote() int {
	boot, err := readBoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gowsgi zygote: %v\n", err)
		return handoff.ExitWorkerBootError
	}
	cfg := boot.Config
	elog, err := errorlog.Open(cfg.ErrorLogOptions())
	if err != nil {
		fmt.Fprintf(os.Stderr, "gowsgi zygote: %v\n", err)
		return handoff.ExitWorkerBootError
	}
	log := elog.Logger("zygote")
	spec, err := prepareZygote(cfg, log, boot.Listeners)
	if err != nil {
		spec = &pyshim.ZygoteSpec{Listeners: boot.Listeners,
			FailCode: handoff.ExitWorkerBootError, FailReason: err.Error()}
	}
	if boot.PassSockets {
		spec.Listeners += 2 // what each worker gets after its listeners
	}
	argv := []string{proctitle.Title("zygote", cfg.ProcName, cfg.App), handoff.WorkerCommand}
	err = pyshim.ExecZygote(spec, argv, os.Environ())
	log.Error().Err(err).Msg("cannot start the zygote")
	return handoff.ExitWorkerBootError
}

// prepareZygote readies this process to become the zygote and returns
// what the zygote needs to import the app, in the order startPython
// does the same steps.
func prepareZygote(cfg *config.Config, log zerolog.Logger, listeners int) (*pyshim.ZygoteSpec, error) {
	lns, err := inheritListeners(listeners)
	if err != nil {
		return nil, err
	}
	err = ownUnixSockets(cfg, lns)
	closeListeners(lns) // the workers get theirs with each spawn request
	if err != nil {
		return nil, err
	}
	// Forked workers open the access log as --user: create it now, as
	// root, so that dropPrivileges hands it over with the error log.
	access, err := engine.OpenAccessLog(cfg)
	if err != nil {
		return nil, err
	}
	if access != nil {
		access.Close()
	}
	if err := dropPrivileges(cfg, log); err != nil {
		return nil, err
	}
	changeEnv(cfg)
	setPasteGlobalConf(cfg)
	if _, set := os.LookupEnv("PYTHONUNBUFFERED"); cfg.CaptureOutput && !set {
		os.Setenv("PYTHONUNBUFFERED", "1") // as captureOutput does, before Python reads it
	}
	opts, err := pythonOptions(cfg, log)
	if err != nil {
		return nil, fmt.Errorf("cannot use the virtualenv: %w", err)
	}
	if cfg.Chdir != "" {
		if err := os.Chdir(cfg.Chdir); err != nil {
			return nil, fmt.Errorf("cannot change directory: %w", err)
		}
	}
	cwd, _ := os.Getwd()
	paths := append([]string{cwd}, cfg.PythonPath...)
	return &pyshim.ZygoteSpec{
		Program:       opts.Program,
		Executable:    opts.Executable,
		App:           cfg.App,
		Paths:         paths,
		Multithread:   cfg.Threads > 1,
		GCFreeze:      !cfg.NoGCFreeze,
		Kind:          appKind(cfg),
		LoggingSource: pyloggingSource,
		Logging:       loggingSettings(cfg, paths),
		Listeners:     listeners,
	}, nil
}

func closeListeners(lns []net.Listener) {
	for _, l := range lns {
		l.Close()
	}
}

// adoptPython is startPython in a worker forked by the zygote: the app
// is imported already; only the Go side of pyshim is left to set up.
func adoptPython(cfg *config.Config, log zerolog.Logger, h *hooks) int {
	err := pyshim.Adopt(pyshim.Options{EnvironKeys: wsgi.EnvironKeys, Errors: wsgiErrorsSink(log),
		Log: pythonLogSink(log)})
	if err != nil {
		log.Error().Err(err).Msg("cannot use the interpreter inherited from the zygote")
		return handoff.ExitWorkerBootError
	}
	if err := h.load(false); err != nil {
		log.Error().Msg("cannot load the server hooks from the config file:\n" + tracebackOf(err))
		return handoff.ExitWorkerBootError
	}
	setEnvironDefaults(cfg, log)
	takeAppKind(cfg, log)
	if h.postFork(false) != nil || h.postWorkerInit() != nil {
		h.exitHolding(false)
		return handoff.ExitWorkerBootError
	}
	reclaimSignals(log) // signals.go
	log.Info().Str("app", cfg.App).Bool("preloaded", true).Msg(errorlog.MsgBooted)
	return 0
}
