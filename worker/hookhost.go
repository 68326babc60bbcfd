package worker

import (
	_ "embed"
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
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
	return runScript("hook host", "<gowsgi>/hooks.py", args[0],
		hostLoggingModule()+hooksSource+hookhostPy+"\nsys.exit(host_main())\n", []string{exe})
}

// hookhostPy is the host's part of the hooks' source, after hooks.py.
//
//go:embed hookhost.py
var hookhostPy string

// hostLoggingModule is Python that makes pylogging.py the module
// _gowsgi_logging of the hook host, whose host_main sets up Python's
// logging with it as a worker does: the master's hooks log as
// Gunicorn's master's do. The source travels in base64, which any
// Python string literal holds.
func hostLoggingModule() string {
	return "import sys as _sys, types as _types\n" +
		"_sys.modules['_gowsgi_logging'] = _types.ModuleType('_gowsgi_logging')\n" +
		pythonRunAs("<gowsgi>/_gowsgi_logging.py", pyloggingSource, "_sys.modules['_gowsgi_logging'].__dict__")
}

// pythonRunAs is Python that runs source in the namespace ns (a Python
// expression) compiled as file, with its lines in linecache for the
// tracebacks through it. exec of a bare string, or python3 -c, compiles
// it as "<string>", every such source alike, and CPython 3.13, which
// keeps "<string>" sources in linecache, then showed a frame of one with
// the lines of another. The source travels in base64, which any Python
// string literal holds.
func pythonRunAs(file, source, ns string) string {
	name := strconv.Quote(file)
	return "import base64 as _gw_b64, linecache as _gw_lc\n" +
		"_gw_src = _gw_b64.b64decode('" + base64.StdEncoding.EncodeToString([]byte(source)) + "').decode()\n" +
		"_gw_lc.cache[" + name + "] = (len(_gw_src), None, _gw_src.splitlines(True), " + name + ")\n" +
		"exec(compile(_gw_src, " + name + ", 'exec'), " + ns + ")\n"
}
