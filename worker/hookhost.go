package worker

import (
	"encoding/base64"
	"fmt"
	"os"
)

// RunHookHost is the hidden command handoff.HookHostCommand: the Python
// process in which the master, which never runs Python, has its
// server hooks run (on_starting, when_ready, pre_fork, child_exit, ...).
// It runs hooks.py's host_main with the embedded CPython until the
// master closes its request pipe. args is the virtualenv, or "".
func RunHookHost(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "gowsgi: the hook host is started by the gowsgi master only")
		return 2
	}
	exe, _ := os.Executable()
	return runScript("hook host", args[0], hostLoggingModule()+hooksSource+"\nsys.exit(host_main())\n", []string{exe})
}

// hostLoggingModule is Python that makes pylogging.py the module
// _gowsgi_logging of the hook host, whose host_main sets up Python's
// logging with it as a worker does: the master's hooks log as
// Gunicorn's master's do. The source travels in base64, which any
// Python string literal holds.
func hostLoggingModule() string {
	return "import base64 as _b64, sys as _sys, types as _types\n" +
		"_sys.modules['_gowsgi_logging'] = _types.ModuleType('_gowsgi_logging')\n" +
		"exec(_b64.b64decode('" + base64.StdEncoding.EncodeToString([]byte(pyloggingSource)) + "').decode(), " +
		"_sys.modules['_gowsgi_logging'].__dict__)\n"
}
