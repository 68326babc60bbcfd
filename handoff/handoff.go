// Package handoff is the contract between the master and its workers:
// the hidden worker command, the file descriptor numbers the master
// passes with ExtraFiles, the messages on the control pipe, the signals
// and the exit codes. Both sides import it so each number is written
// once.
//
// It must not import cgo, pyshim, wsgi or worker.
package handoff

import (
	"encoding/json"
	"syscall"

	"github.com/gowsgi/gowsgi/config"
)

// WorkerCommand is argv[1] of a re-executed worker process.
const WorkerCommand = "__gowsgi_worker__"

// HookHostCommand is argv[1] of the hook host, the Python process that
// runs the master-side server hooks (master/hooks.go); argv[2] is the
// virtualenv or "". It reads requests on HookRequestFD and answers on
// HookReplyFD, one JSON object per line (worker/hooks.py, host_main).
const HookHostCommand = "__gowsgi_hookhost__"

// File descriptors of the hook host.
const (
	HookRequestFD = 3
	HookReplyFD   = 4
)

// File descriptors of a worker, in the order the master puts them in
// exec.Cmd.ExtraFiles (fd 3 is ExtraFiles[0]).
const (
	// ConfigFD is the read end of a pipe carrying the resolved
	// config.Config as JSON, closed by the master after writing.
	ConfigFD = 3
	// ControlFD is the write end of the worker→master control pipe.
	ControlFD = 4
	// FirstListenerFD is the first inherited listening socket; the
	// worker's listeners are FirstListenerFD .. FirstListenerFD+N-1.
	FirstListenerFD = 5
)

// Exit codes with a meaning to the master (and, from the master, to a
// supervisor such as systemd). They follow Gunicorn's arbiter.
const (
	ExitOK = 0
	// ExitWorkerBootError: a worker failed to start for a reason other
	// than the app; the master stops instead of respawning forever.
	ExitWorkerBootError = 3
	// ExitAppLoadError: the WSGI app could not be imported.
	ExitAppLoadError = 4
)

// Boot is what the master writes, as JSON, on ConfigFD of each worker.
type Boot struct {
	// WorkerID numbers workers 1, 2, ... in spawn order, for logs.
	WorkerID int `json:"worker_id"`
	// Listeners is how many listening sockets follow FirstListenerFD.
	Listeners int `json:"listeners"`
	// PassSockets: after the listeners come the two ends of the socket
	// pair the workers pass each other connections on (engine/pass.go),
	// the sending end first. A zygote gets none itself: the spawn
	// requests of its workers carry them.
	PassSockets bool `json:"pass_sockets,omitempty"`
	// Config is the master's resolved configuration.
	Config *config.Config `json:"config"`
	// HookAttrs are what the pre_fork hook stored on the worker (JSON
	// values by name), which its worker object starts with.
	HookAttrs json.RawMessage `json:"hook_attrs,omitempty"`
}

// Signals the master sends a worker, besides Gunicorn's TERM (graceful
// stop), QUIT and INT (quick stop) and USR1 (reopen the log files).
const (
	// AbortSignal asks a worker whose app call outlived --timeout to log
	// the Python stack of every thread, then answer MsgAborted; the
	// master SIGKILLs it either way. Gunicorn sends SIGABRT too.
	AbortSignal = syscall.SIGABRT
	// GracefulStopSignal is how the master stops a ready worker
	// gracefully, once it has emptied the accept queues (master/quiesce.go).
	// A TERM the worker gets from anyone else (systemd's default
	// KillMode=control-group and Heroku signal every process of the
	// service at once) only makes it send MsgTermed and serve on until
	// this signal comes: stopping at once would leave the connections
	// queued on the listeners to be reset. It is SIGRTMIN+6 in glibc's
	// numbering; Go ignores it in a process that does not ask for it.
	GracefulStopSignal = syscall.Signal(40)
)
