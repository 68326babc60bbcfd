package master

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/handoff"
	"github.com/rs/zerolog"
)

// Gunicorn runs its master-side server hooks (on_starting, when_ready,
// pre_fork, child_exit, nworkers_changed, on_reload, pre_exec, on_exit)
// in its arbiter. gowsgi's master is Go and never runs Python, so it
// keeps a hook host: the binary re-executed with handoff.HookHostCommand,
// a Python process that executes the config file once and then runs the
// hooks the master asks for, one at a time, over two pipes. Calls are
// synchronous, on the arbiter goroutine, as Gunicorn's are: pre_fork
// runs before the worker is started, on_starting before the listeners
// are bound. docs/gunicorn.md has the design and its costs.

// masterHooks run in the hook host; the others run in the workers.
var masterHooks = map[string]bool{
	"on_starting": true, "on_reload": true, "when_ready": true, "pre_fork": true,
	"pre_exec": true, "child_exit": true, "nworkers_changed": true, "on_exit": true,
}

// ExitHookError: a master-side hook raised where Gunicorn stops
// (on_starting, when_ready, pre_fork, child_exit, ...).
const ExitHookError = 1

// errHookHostGone: the hook host exited or its pipes broke.
var errHookHostGone = errors.New("master: the hook host is gone")

// hookHost is the running hook host. A nil *hookHost runs no hook.
// Used from the arbiter goroutine only (and by Run before and after it).
type hookHost struct {
	log  zerolog.Logger
	cmd  *exec.Cmd
	req  *os.File      // requests, to the host
	resp *bufio.Reader // log lines and replies, from the host
	rf   *os.File      // resp's file, closed with the host
	has  map[string]bool
	// process is what the host was started with (hostProcess): a HUP
	// that changes none of it reloads the file in this host.
	process string
}

// hookCall is one request: the hook and what its arguments show.
type hookCall struct {
	Hook   string      `json:"hook"`
	Server hookServer  `json:"server"`
	Worker *hookWorker `json:"worker,omitempty"`
	New    *int        `json:"new,omitempty"` // nworkers_changed
	Old    *int        `json:"old"`           // nworkers_changed; null at start
}

type hookServer struct {
	PID        int   `json:"pid"`
	NumWorkers int   `json:"num_workers"`
	Workers    []int `json:"workers"`
	// WorkerAges and WorkerAttrs are each of Workers' worker.age and
	// what pre_fork stored on it.
	WorkerAges  []int             `json:"worker_ages"`
	WorkerAttrs []json.RawMessage `json:"worker_attrs"`
}

type hookWorker struct {
	PID      *int `json:"pid"` // null in pre_fork: not started yet
	PPID     int  `json:"ppid"`
	Age      int  `json:"age"`
	Alive    bool `json:"alive"`
	ExitCode *int `json:"exitcode,omitempty"`
	// Attrs are what pre_fork stored on the worker (child_exit).
	Attrs json.RawMessage `json:"attrs,omitempty"`
}

// hookReply is one line from the host.
type hookReply struct {
	Ready []string `json:"ready"` // first line: the hooks the file defines
	Log   string   `json:"log"`   // a line a hook logged: its level
	Text  string   `json:"text"`
	// Logger names the Python logger of a record Python's logging wrote
	// (through gunicorn.error's handler), "" for server.log.
	Logger string `json:"logger"`
	Done   string `json:"done"`  // the hook that finished
	Error  string `json:"error"` // its traceback, or why the file failed to load
	// WorkerAttrs are what pre_fork stored on the worker, for it to
	// start with (handoff.Boot.HookAttrs).
	WorkerAttrs json.RawMessage `json:"worker_attrs"`
}

// startHookHost starts the hook host for cfg, or returns nil when cfg
// defines no master-side hook.
func startHookHost(cfg *config.Config, log zerolog.Logger) (*hookHost, error) {
	need := false
	for _, n := range cfg.Hooks {
		need = need || masterHooks[n]
	}
	if !need {
		return nil, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	respR, respW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, err
	}
	cmd := exec.Command(exe, handoff.HookHostCommand, cfg.Virtualenv)
	cmd.Path = "/proc/self/exe" // this binary, even if the file on disk was replaced since
	// The master's environment as the config file, --env-file and
	// raw_env change it: Gunicorn's arbiter runs the file and sets raw_env
	// in its own os.environ (and Uvicorn the env file's).
	cmd.Env = config.ApplyEnvChanges(childEnviron(os.Environ()), cfg.EnvChanges(os.LookupEnv))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Dir = cfg.Chdir                      // Gunicorn's master changes to it before running hooks
	cmd.ExtraFiles = []*os.File{reqR, respW} // handoff.HookRequestFD, HookReplyFD
	err = cmd.Start()
	reqR.Close()
	respW.Close()
	if err != nil {
		reqW.Close()
		respR.Close()
		return nil, err
	}
	h := &hookHost{log: log.With().Str("source", "hooks").Logger(), cmd: cmd, req: reqW,
		resp: bufio.NewReaderSize(respR, 64<<10), rf: respR, process: hostProcess(cfg)}
	if err := h.load(map[string]any{"spec": cfg.ConfigFile, "settings": cfg.GunicornValues()}); err != nil {
		h.end()
		return nil, err
	}
	return h, nil
}

// hostProcess is what a hook host process is made of: the interpreter
// (virtualenv), the working directory and the environment changes.
func hostProcess(cfg *config.Config) string {
	b, _ := json.Marshal([]any{cfg.Virtualenv, cfg.Chdir, cfg.EnvChanges(os.LookupEnv)})
	return string(b)
}

// load sends the host its config file (the first request, or a
// "reload") and takes the hooks it defines.
func (h *hookHost) load(req any) error {
	err := h.send(req)
	var r *hookReply
	if err == nil {
		r, err = h.read()
	}
	if err == nil && r.Error != "" {
		err = fmt.Errorf("the config file failed in the hook host:\n%s", r.Error)
	}
	if err != nil {
		return err
	}
	h.has = map[string]bool{}
	for _, n := range r.Ready {
		h.has[n] = masterHooks[n]
	}
	h.log.Debug().Int("hook_host_pid", h.cmd.Process.Pid).Strs("hooks", r.Ready).Msg("hook host ready")
	return nil
}

func (h *hookHost) send(msg any) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := h.req.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%w: %v", errHookHostGone, err)
	}
	return nil
}

// read returns the next reply that is not a log line, logging those.
func (h *hookHost) read() (*hookReply, error) {
	for {
		line, err := h.resp.ReadBytes('\n')
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errHookHostGone, err)
		}
		var r hookReply
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("master: bad line from the hook host: %q", line)
		}
		if r.Log == "" {
			return &r, nil
		}
		ev := h.log.WithLevel(errorlog.PythonLevel(r.Log))
		if r.Logger != "" {
			ev = ev.Str("logger", r.Logger)
		}
		ev.Msg(r.Text)
	}
}

// run calls one hook and waits for it. A hook that raised is logged
// with its traceback and returned as an error.
func (h *hookHost) run(c hookCall) error {
	_, err := h.call(c)
	return err
}

// call is run, returning the host's reply (nil when the hook is not
// defined).
func (h *hookHost) call(c hookCall) (*hookReply, error) {
	if h == nil || !h.has[c.Hook] {
		return nil, nil
	}
	err := h.send(c)
	var r *hookReply
	if err == nil {
		r, err = h.read()
	}
	if err == nil && r.Error != "" {
		err = fmt.Errorf("the %s hook raised", c.Hook)
		h.log.Error().Str("hook", c.Hook).Msg("the " + c.Hook + " hook raised:\n" + r.Error)
		return nil, err
	}
	if err != nil {
		h.log.Error().Err(err).Str("hook", c.Hook).Msg("cannot run the hook")
	}
	return r, err
}

// reopenLogs has the host reopen the files of its Python logging (USR1),
// as a worker does, and waits for it.
func (h *hookHost) reopenLogs() {
	if h == nil {
		return
	}
	err := h.send(map[string]bool{"reopen": true})
	var r *hookReply
	if err == nil {
		r, err = h.read()
	}
	if err == nil && r.Error != "" {
		err = errors.New(r.Error)
	}
	if err != nil {
		h.log.Error().Msg("the hook host cannot reopen Python's log files:\n" + err.Error())
	}
}

// close ends the host: it exits when its request pipe closes. The
// arbiter's wait4 reaps it (an unknown pid to it); end reaps it at the
// end.
func (h *hookHost) close() {
	if h == nil {
		return
	}
	h.req.Close()
	h.rf.Close()
}

// end closes the host and waits for it to exit, when the master exits:
// a host it left behind would outlive it.
func (h *hookHost) end() {
	if h == nil {
		return
	}
	h.close()
	awaitChild(h.cmd.Process.Pid, helperExitWait) // effects.go
}

// serverState is what `server` shows.
func (a *arbiter) serverState() hookServer {
	s := hookServer{PID: os.Getpid(), NumWorkers: a.cur.want, Workers: []int{}}
	if a.next != nil { // a reload's count, as Gunicorn's num_workers is once it re-read the config
		s.NumWorkers = a.next.want
	}
	for _, w := range a.byID() {
		s.Workers, s.WorkerAges = append(s.Workers, w.pid), append(s.WorkerAges, w.id)
		s.WorkerAttrs = append(s.WorkerAttrs, w.hookAttrs)
	}
	return s
}

// hook runs a master-side hook. When it raises, the master stops, as
// Gunicorn's arbiter does ("Unhandled exception in main loop"), and
// hook reports false.
func (a *arbiter) hook(c hookCall) bool {
	_, ok := a.hookReply(c)
	return ok
}

// hookReply is hook, with the host's reply (nil when the hook is not
// defined).
func (a *arbiter) hookReply(c hookCall) (*hookReply, bool) {
	if a.hooks == nil {
		return nil, true
	}
	c.Server = a.serverState()
	r, err := a.hooks.call(c)
	if err != nil {
		a.halt(ExitHookError, "the "+c.Hook+" hook failed; stopping, as Gunicorn does")
		return nil, false
	}
	return r, true
}

// nworkersChanged runs nworkers_changed when the number of workers
// wanted moved from old.
func (a *arbiter) nworkersChanged(old int) {
	if n := a.cur.want; n != old {
		a.hook(hookCall{Hook: "nworkers_changed", New: &n, Old: &old})
	}
}

// startHooks starts the hook host and runs what Gunicorn's arbiter runs
// before it binds: nworkers_changed(workers, None), then on_starting.
// An error means the master must not start.
func (a *arbiter) startHooks(cfg *config.Config) error {
	h, err := startHookHost(cfg, a.log)
	if err != nil {
		return err
	}
	a.hooks = h
	n := cfg.Workers
	for _, c := range []hookCall{{Hook: "nworkers_changed", New: &n}, {Hook: "on_starting"}} {
		c.Server = a.serverState()
		if err := h.run(c); err != nil {
			return err
		}
	}
	return nil
}

// reloadHooks takes the hooks of the configuration a HUP read (it may
// define other hooks). The hook host executes the re-read file itself,
// as Gunicorn's arbiter does, so what its hooks started (a thread, a
// metrics server in when_ready) runs on; on failure it keeps the old
// hooks. Only a new virtualenv, working directory or environment takes
// a new host.
func (a *arbiter) reloadHooks(nc *config.Config) error {
	if a.hooks != nil && a.hooks.process == hostProcess(nc) {
		err := a.hooks.load(map[string]any{"reload": map[string]any{"spec": nc.ConfigFile, "settings": nc.GunicornValues()}})
		if !errors.Is(err, errHookHostGone) {
			return err
		}
		a.log.Warn().Err(err).Msg("reload: the hook host is gone; starting a new one")
	}
	h, err := startHookHost(nc, a.log)
	if err != nil {
		return err
	}
	a.hooks.close()
	a.hooks = h
	return nil
}
