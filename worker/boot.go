package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/engine"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/handoff"
	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// Main runs a worker process started by the master and returns its exit
// code. It must be called on the main goroutine: Python is initialised
// on a locked OS thread.
func Main() int {
	boot, err := readBoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gowsgi worker: %v\n", err)
		return handoff.ExitWorkerBootError
	}
	cfg := boot.Config
	elog, err := errorlog.Open(cfg.ErrorLogOptions())
	if err != nil {
		fmt.Fprintf(os.Stderr, "gowsgi worker: %v\n", err)
		return handoff.ExitWorkerBootError
	}
	sd, err := openStatsd(cfg, elog) // before the first logger, which counts its lines
	if err != nil {
		fmt.Fprintf(os.Stderr, "gowsgi worker: %v\n", err)
		return handoff.ExitWorkerBootError
	}
	log := elog.Logger("worker").With().Int("worker", boot.WorkerID).Logger()
	watchStatsd(sd, log)
	defer closeStatsd(sd, log)

	listeners, err := inheritListeners(boot.Listeners)
	if err != nil {
		log.Error().Err(err).Msg("cannot use the inherited listeners")
		return handoff.ExitWorkerBootError
	}
	pass := inheritPassSockets(boot)
	ext, err := prepareProcess(cfg, elog, log, listeners)
	if err != nil {
		log.Error().Err(err).Msg("cannot prepare the worker process")
		return handoff.ExitWorkerBootError
	}
	defer endCapture() // capture.go: the app's last output, after atexit
	ext.Statsd = sd
	h := newHooks(cfg, log, boot.WorkerID, boot.HookAttrs)
	if code := startPython(cfg, log, h); code != 0 {
		return code
	}
	app, slots := engine.App(wsgiApp{timeouts: cfg.RequestTimeout > 0}), cfg.Threads
	var asgi *asgiApp
	var lag func(probe bool) time.Duration
	if cfg.WorkerClass == config.WorkerClassASGI {
		var code int
		if asgi, code = startASGI(cfg, log, ext.Forwarded); code != 0 { // asgiworker.go
			return code
		}
		app, slots, lag = asgi, asgiSlots(cfg), asgi.loop.Lag
	}
	records := usePythonAccess(cfg, log, ext, asgi != nil) // pyaccess.go
	if asgi != nil && pass != nil {
		// One event loop runs many requests: none waits for a thread.
		unix.Close(pass.Send)
		unix.Close(pass.Receive)
		pass = nil
	}
	srv, err := engine.New(cfg, log, listeners, engine.Options{
		App:    app,
		Slots:  slots,
		AppLag: lag,
		// WSGI's environ["gunicorn.socket"]; ASGI has its own WebSockets.
		OfferSockets: asgi == nil,
		PinsThreads:  asgi == nil, // a WSGI response resumes on its thread
		StreamBodies: asgi != nil, // the event loop waits for a body without a thread
		Extras:       ext,
		Hooks:        requestHooksOf(h, asgi == nil),
		Pass:         pass,
	})
	if err != nil {
		log.Error().Err(err).Msg("cannot serve TLS")
		return handoff.ExitWorkerBootError
	}
	p := &process{cfg: cfg, log: log, elog: elog, srv: srv, calls: srv, hooks: h,
		ctl: os.NewFile(handoff.ControlFD, "control")}
	if asgi != nil {
		p.calls = &asgiCalls{srv: srv, loop: asgi.loop}
	}
	p.startReports()
	code := p.run()
	if asgi != nil {
		grace := cfg.GracefulTimeout
		if p.quick {
			// The app's calls still running get 0.4 s, then are
			// cancelled, and the lifespan shutdown gets its share of the
			// master's 2 s; waiting --graceful-timeout ended in a SIGKILL.
			grace = quickStopShutdown
		}
		asgi.stop(grace)
	}
	records.Close()
	h.exit()
	runAtexit(cfg, log)
	return code
}

// runAtexit waits for the app's non-daemon threads and runs its atexit
// functions after worker_exit, as a Gunicorn worker's exit does:
// telemetry flushes its buffers there (OpenTelemetry's span processors,
// Sentry), a queue-draining thread finishes. A thread or function that
// never ends holds the exit up for --graceful-timeout at most, after
// which the master would kill the worker anyway.
func runAtexit(cfg *config.Config, log zerolog.Logger) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := pyshim.RunAtexit(); err != nil {
			log.Error().Msg("cannot run the atexit functions:\n" + tracebackOf(err))
		}
	}()
	select {
	case <-done:
	case <-time.After(cfg.GracefulTimeout):
		log.Warn().Dur("waited", cfg.GracefulTimeout).Msg("the app's non-daemon threads or atexit functions " +
			"did not end in time; exiting without them")
	}
}

func readBoot() (*handoff.Boot, error) {
	f := os.NewFile(handoff.ConfigFD, "boot")
	if f == nil {
		return nil, errors.New("no boot pipe: the worker command is started by the gowsgi master only")
	}
	defer f.Close()
	var b handoff.Boot
	if err := json.NewDecoder(f).Decode(&b); err != nil {
		return nil, fmt.Errorf("reading the boot message: %w", err)
	}
	if b.Config == nil {
		return nil, errors.New("the boot message has no config")
	}
	return &b, nil
}

func inheritListeners(n int) ([]net.Listener, error) {
	ls := make([]net.Listener, 0, n)
	for i := range n {
		fd := uintptr(handoff.FirstListenerFD + i)
		f := os.NewFile(fd, fmt.Sprintf("listener-%d", i))
		l, err := net.FileListener(f)
		f.Close() // FileListener holds its own dup
		if err != nil {
			return nil, fmt.Errorf("listener fd %d: %w", fd, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// inheritPassSockets returns the pass sockets' descriptors when the
// master sent them, after the listeners; nil otherwise.
func inheritPassSockets(boot *handoff.Boot) *engine.PassSockets {
	if !boot.PassSockets {
		return nil
	}
	first := handoff.FirstListenerFD + boot.Listeners
	unix.CloseOnExec(first)
	unix.CloseOnExec(first + 1)
	return &engine.PassSockets{Send: first, Receive: first + 1}
}

// startPython initialises CPython and imports the app on the locked main
// thread, then releases the GIL for the connection goroutines. It
// returns 0, or the exit code that tells the master why it failed.
func startPython(cfg *config.Config, log zerolog.Logger, h *hooks) int {
	if pyshim.Preloaded() {
		return adoptPython(cfg, log, h)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	changeEnv(cfg)
	setPasteGlobalConf(cfg)
	opts, err := pythonOptions(cfg, log)
	if err != nil {
		log.Error().Err(err).Msg("cannot use the virtualenv")
		return handoff.ExitWorkerBootError
	}
	if cfg.Chdir != "" {
		if err := os.Chdir(cfg.Chdir); err != nil {
			log.Error().Err(err).Str("chdir", cfg.Chdir).Msg("cannot change directory")
			return handoff.ExitWorkerBootError
		}
	}
	cwd, _ := os.Getwd()
	if err := pyshim.Init(opts); err != nil {
		log.Error().Msg("the Python interpreter failed to start: " + err.Error() + pythonAccessHint(cfg))
		return handoff.ExitWorkerBootError
	}
	paths := append([]string{cwd}, cfg.PythonPath...)
	if err := pyshim.SetupLogging(pyloggingSource, loggingSettings(cfg, paths), true); err != nil {
		log.Error().Msg("cannot set up Python's logging:\n" + tracebackOf(err))
		return handoff.ExitWorkerBootError
	}
	if err := h.load(true); err != nil {
		log.Error().Msg("cannot load the server hooks from the config file:\n" + tracebackOf(err))
		return handoff.ExitWorkerBootError
	}
	if h.postFork(true) != nil {
		h.exitHolding(true)
		return handoff.ExitWorkerBootError // Gunicorn's worker dies the same way
	}
	reclaimSignals(log) // signals.go
	if kind := appKind(cfg); kind != pyshim.AppWSGI {
		if err := pyshim.PrepareImportLoop(cfg.ASGILoop, kind == pyshim.AppASGI); err != nil {
			log.Error().Str("loop", cfg.ASGILoop).Msg("cannot start the ASGI event loop:\n" + tracebackOf(err))
			return handoff.ExitWorkerBootError
		}
	}
	stolen, err := pyshim.LoadApp(cfg.App, paths, cfg.Threads > 1, appKind(cfg))
	noteStolen(log, stolen) // LoadApp put them back
	if err != nil {
		var appErr *pyshim.AppError
		msg, code := err.Error(), handoff.ExitWorkerBootError
		if errors.As(err, &appErr) {
			msg = appErr.Traceback
			if appErr.NoApp {
				code = handoff.ExitAppLoadError
			}
		}
		// The traceback is the message, so a console log shows it as
		// Python printed it.
		log.Error().Str("app", cfg.App).Msg("failed to load the application:\n" + msg)
		h.exitHolding(true)
		return code
	}
	pyshim.ReleaseMain()
	setEnvironDefaults(cfg, log)
	takeAppKind(cfg, log)
	if h.postWorkerInit() != nil {
		h.exitHolding(false)
		return handoff.ExitWorkerBootError
	}
	reclaimSignals(log)
	log.Info().Str("app", cfg.App).Msg(errorlog.MsgBooted)
	return 0
}

// setEnvironDefaults makes wsgi.multiprocess say whether other workers run
// the app too, as Gunicorn's environ does (cfg.workers > 1), and sets
// SERVER_SOFTWARE as a config file's gunicorn.SERVER_SOFTWARE asks.
func setEnvironDefaults(cfg *config.Config, log zerolog.Logger) {
	if err := pyshim.SetMultiprocess(cfg.Workers > 1); err != nil {
		log.Warn().Err(err).Msg("wsgi.multiprocess keeps its default, True")
	}
	if cfg.ServerSoftware != nil {
		if err := pyshim.SetServerSoftware(*cfg.ServerSoftware); err != nil {
			log.Warn().Err(err).Msg("SERVER_SOFTWARE keeps its default, gowsgi")
		}
	}
}

// appKind is what LoadApp expects of the app: the worker class's kind,
// or either when none was named.
func appKind(cfg *config.Config) pyshim.AppKind {
	switch {
	case cfg.WorkerClass == config.WorkerClassASGI:
		return pyshim.AppASGI
	case cfg.DetectASGI:
		return pyshim.AppDetect
	}
	return pyshim.AppWSGI
}

// takeAppKind makes the worker class ASGI when none was named and the
// app loaded (here or in the zygote) is async, before the worker picks
// its engine.
func takeAppKind(cfg *config.Config, log zerolog.Logger) {
	if cfg.DetectASGI && pyshim.AppIsASGI() {
		cfg.WorkerClass = config.WorkerClassASGI
		log.Info().Str("app", cfg.App).Msg("the app is async: served as ASGI, as with --worker-class asgi")
	}
}
