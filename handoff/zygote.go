package handoff

// The --preload zygote. The master starts ZygoteCommand with a boot
// message (Boot, WorkerID 0) on ConfigFD, the listeners from
// FirstListenerFD, and one end of a SOCK_SEQPACKET socket at
// ZygoteSocketFD. That process readies itself (privileges, directory,
// environment) and re-executes the binary as the zygote proper, which
// imports the app in C before the Go runtime starts and then forks the
// workers the master asks for. pyshim/zygote.c speaks the other side of
// this protocol; each message is one packet.
const (
	// ZygoteCommand is argv[1] of the zygote process.
	ZygoteCommand = "__gowsgi_zygote__"
	// ZygoteSocketFD is the zygote's end of the socket to the master.
	ZygoteSocketFD = 4
)

// Zygote to master, once the import is done: ZygoteLoaded, or
// "failed CODE\nTEXT" where CODE is ExitWorkerBootError or
// ExitAppLoadError and TEXT the reason, or "failed CODE app\nTEXT" when
// loading the app failed and TEXT is the Python traceback. Before it,
// any number of warnings: "signal N" (the app took signal N; it was
// restored) and "threads\nNAME\n..." (threads the app started while
// imported: the workers do not have them) and "log LEVEL LOGGER\nTEXT"
// (a record Python's logging wrote to the error log during the import;
// LEVEL is its number, logging.INFO is 20).
//
// Master to zygote: ZygoteSpawn, carrying (SCM_RIGHTS) the worker's
// descriptors in the order they get in the worker: the boot pipe
// (ConfigFD), the control pipe (ControlFD), the listeners. The zygote
// answers "pid N" with the new worker's pid, by then a child of the
// master, or "error TEXT".
const (
	ZygoteLoaded  = "loaded"
	ZygoteFailed  = "failed"
	ZygoteSignal  = "signal"
	ZygoteThreads = "threads"
	ZygoteLog     = "log"
	ZygoteSpawn   = "spawn"
	ZygotePID     = "pid"
	ZygoteError   = "error"
)
