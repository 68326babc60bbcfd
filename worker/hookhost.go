package worker

import (
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
	return runScript("hook host", args[0], hooksSource+"\nsys.exit(host_main())\n", []string{exe})
}
