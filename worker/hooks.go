package worker

import (
	_ "embed"
	"encoding/json"
	"os"
	"sync/atomic"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/engine"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/gowsgi/gowsgi/wsgi"
	"github.com/rs/zerolog"
)

// Gunicorn's worker-side server hooks (post_fork, post_worker_init,
// pre_request, post_request, worker_int, worker_abort, worker_exit) run
// here, in the worker's interpreter, with a `worker` object. The config
// file is executed once more in each worker to get the functions
// (hooks.py, load); docs/gunicorn.md says why and what it costs.

//go:embed hooks.py
var hooksPy string

// hooksSource is hooks.py with the gunicorn module stand-in it uses.
var hooksSource = gunicornModule + hooksPy

// workerHooks are the hooks that run in a worker; the others run in the
// master's hook host (master/hooks.go).
var workerHooks = map[string]bool{
	"post_fork": true, "post_worker_init": true, "pre_request": true, "post_request": true,
	"worker_int": true, "worker_abort": true, "worker_exit": true,
}

// hooks runs the config file's worker-side hooks. A nil *hooks (no such
// hook defined) runs nothing: every method checks, so a call site costs
// a nil check.
type hooks struct {
	cfg *config.Config // immutable
	log zerolog.Logger // immutable
	age int            // worker.age: the worker's number in spawn order; immutable
	// attrs are what pre_fork stored on the worker in the master's hook
	// host (handoff.Boot.HookAttrs); immutable.
	attrs json.RawMessage
	// has is set by load and read-only afterwards.
	has map[string]bool
	// pre and post are has["pre_request"] and has["post_request"],
	// read on every request.
	pre, post bool
	// stopping is worker.alive's opposite: set once the worker stops,
	// or a hook set worker.alive = False.
	stopping atomic.Bool
	booted   atomic.Bool
	// retire gets a value when a hook sets worker.alive = False: run
	// then asks the master for a replacement, as for --max-requests.
	retire chan struct{}
}

// newHooks returns the hooks of the worker numbered age, which starts
// with the attributes attrs, nil when the config file defines none that
// run in a worker.
func newHooks(cfg *config.Config, log zerolog.Logger, age int, attrs json.RawMessage) *hooks {
	for _, name := range cfg.Hooks {
		if workerHooks[name] {
			return &hooks{cfg: cfg, log: log.With().Str("source", "hooks").Logger(), age: age, attrs: attrs,
				retire: make(chan struct{}, 1)}
		}
	}
	return nil
}

// load executes the config file in the interpreter and keeps its
// hooks. held: the caller holds the GIL.
func (h *hooks) load(held bool) error {
	if h == nil {
		return nil
	}
	settings, err := json.Marshal(h.cfg.GunicornValues())
	if err != nil {
		return err
	}
	names, err := pyshim.LoadHooks(hooksSource, h.cfg.ConfigFile, string(settings), held, h.logLine)
	if err != nil {
		return err
	}
	h.has = map[string]bool{}
	for _, n := range names {
		h.has[n] = workerHooks[n]
	}
	h.pre, h.post = h.has["pre_request"], h.has["post_request"]
	return nil
}

// logLine writes what a hook logged with worker.log.
func (h *hooks) logLine(level, text string) {
	h.log.WithLevel(errorlog.PythonLevel(level)).Msg(text)
}

// state is what `worker` shows of this process.
func (h *hooks) state() map[string]any {
	s := map[string]any{"pid": os.Getpid(), "ppid": os.Getppid(), "age": h.age,
		"alive": !h.stopping.Load(), "booted": h.booted.Load()}
	if h.attrs != nil {
		s["attrs"] = h.attrs // read when the worker object is made
	}
	return s
}

// server is what `server` shows in a worker (post_fork, worker_exit).
func (h *hooks) server() map[string]any {
	return map[string]any{"pid": os.Getppid(), "num_workers": h.cfg.Workers}
}

// run calls the hook name, if defined, with args besides `worker`, and
// logs its traceback when it raised.
func (h *hooks) run(name string, args map[string]any, env []byte, held bool) error {
	_, err := h.call(name, args, env, held)
	return err
}

// call is run returning what hooks.py's call() returned: nil, or
// pre_request's changes to req as JSON.
func (h *hooks) call(name string, args map[string]any, env []byte, held bool) ([]byte, error) {
	if h == nil || !h.has[name] {
		return nil, nil
	}
	if args == nil {
		args = map[string]any{}
	}
	args["worker"] = h.state()
	b, err := json.Marshal(args)
	var out []byte
	if err == nil {
		out, err = pyshim.CallHook(name, b, env, held)
	}
	if err != nil {
		h.log.Error().Str("hook", name).Msg("the " + name + " hook raised:\n" + tracebackOf(err))
	}
	if out != nil {
		h.noteRetire(name, out)
	}
	return out, err
}

// noteRetire reads whether the hook set worker.alive = False (out is
// hooks.py's JSON) and, the first time, tells run to retire the worker.
func (h *hooks) noteRetire(name string, out []byte) {
	var r struct {
		Retire bool `json:"retire"`
	}
	if json.Unmarshal(out, &r) != nil || !r.Retire || h.stopping.Swap(true) {
		return
	}
	h.log.Info().Str("hook", name).Msg("the hook set worker.alive = False; the master replaces this worker, " +
		"which serves until then and finishes its requests")
	select {
	case h.retire <- struct{}{}:
	default:
	}
}

// retireAsked is where noteRetire signals; nil (never ready) without hooks.
func (h *hooks) retireAsked() <-chan struct{} {
	if h == nil {
		return nil
	}
	return h.retire
}

func tracebackOf(err error) string {
	if e, ok := err.(*pyshim.AppError); ok {
		return e.Traceback
	}
	return err.Error()
}

// postFork runs post_fork (held: the caller holds the GIL), before the
// app is imported, as Gunicorn does.
func (h *hooks) postFork(held bool) error {
	if h == nil {
		return nil
	}
	return h.run("post_fork", map[string]any{"server": h.server()}, nil, held)
}

// postWorkerInit runs once the app is imported; the GIL is not held.
func (h *hooks) postWorkerInit() error {
	if h == nil {
		return nil
	}
	err := h.run("post_worker_init", nil, nil, false)
	h.booted.Store(true)
	return err
}

// stop marks the worker as no longer alive (worker.alive) and runs the
// hook of the signal that stops it: worker_int for INT and QUIT, "" for
// none.
func (h *hooks) stop(hook string) {
	if h == nil {
		return
	}
	h.stopping.Store(true)
	if hook != "" {
		h.run(hook, nil, nil, false)
	}
}

// exit runs worker_exit as the worker ends.
func (h *hooks) exit() {
	if h == nil {
		return
	}
	h.stopping.Store(true)
	h.exitHolding(false)
}

// exitHolding runs worker_exit; held: the caller holds the GIL, as
// startPython does when the boot fails after the hooks were loaded
// (Gunicorn's spawn_worker runs worker_exit in a finally, for a worker
// whose post_fork or app import raised too, with worker.alive still
// True: only a stop sets it False).
func (h *hooks) exitHolding(held bool) {
	if h == nil {
		return
	}
	h.run("worker_exit", map[string]any{"server": h.server()}, nil, held)
}

// requestHooks runs pre_request and post_request for the engine
// (engine.Hooks). prepared: the app is wsgiApp, whose Prepare built the
// request's environ; for another app post_request's environ is built
// here.
type requestHooks struct {
	h        *hooks
	prepared bool
}

// requestHooksOf returns the engine's view of h, nil when neither
// request hook is defined.
func requestHooksOf(h *hooks, prepared bool) engine.Hooks {
	if h == nil || !h.pre && !h.post {
		return nil
	}
	return requestHooks{h, prepared}
}

func (r requestHooks) Runs() (pre, post bool) { return r.h.pre, r.h.post }

// PreRequest runs pre_request and returns what it changed of req (nil:
// nothing); an error (it raised) makes the engine answer 500, as
// Gunicorn does.
func (r requestHooks) PreRequest(req map[string]any, key string) (*engine.RequestChange, error) {
	out, err := r.h.call("pre_request", map[string]any{"req": req, "key": key}, nil, false)
	if err != nil || out == nil {
		return nil, err
	}
	ch := new(engine.RequestChange)
	if err := json.Unmarshal(out, ch); err != nil {
		// hooks.py wrote it: a bug here, not in the hook.
		r.h.log.Error().Err(err).Str("hook", "pre_request").Msg("cannot read what pre_request changed of req")
		return nil, err
	}
	if *ch == (engine.RequestChange{}) {
		return nil, nil // only worker.alive changed
	}
	return ch, nil
}

// PostRequest runs post_request once the response is sent, with the
// request's environ (wsgiApp.Prepare built it, or built here).
func (r requestHooks) PostRequest(req, resp map[string]any, key string, er *engine.Request) {
	var env *wsgi.Environ
	if r.prepared {
		env = environOf(er)
	} else {
		env = buildEnviron(er)
	}
	r.h.run("post_request", map[string]any{"req": req, "resp": resp, "key": key}, env.Bytes(), false)
}

// abortHookWait bounds how long worker_abort may delay the stack dump
// the master waits for, and worker_exit the kill after it: an app
// stuck holding the GIL would keep either hook from ever starting.
const abortHookWait = time.Second

// abortHook runs worker_abort on the master's abort signal (a request
// outlived --timeout), as Gunicorn does on SIGABRT.
func (h *hooks) abortHook() {
	if h == nil || !h.has["worker_abort"] {
		return
	}
	h.stopping.Store(true)
	h.runWithin("worker_abort", nil, "worker_abort did not finish within a second (the app holds the GIL?); dumping the stacks")
}

// exitAfterAbort runs worker_exit in a worker the master is about to
// kill for --timeout: a Gunicorn worker leaves its abort handler by
// sys.exit(1), and its spawn_worker runs worker_exit on the way out.
func (h *hooks) exitAfterAbort() {
	if h == nil || !h.has["worker_exit"] {
		return
	}
	h.stopping.Store(true)
	h.runWithin("worker_exit", map[string]any{"server": h.server()},
		"worker_exit did not finish within a second of the timeout's stack dump (the app holds the GIL?); leaving it")
}

// runWithin runs the hook name for at most abortHookWait, logging late
// when it has not returned by then (it goes on, and the kill ends it).
func (h *hooks) runWithin(name string, args map[string]any, late string) {
	done := make(chan struct{})
	go func() {
		h.run(name, args, nil, false)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(abortHookWait):
		h.log.Warn().Msg(late)
	}
}
