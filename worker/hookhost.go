package worker

import (
	"fmt"
	"os"

	"github.com/gowsgi/gowsgi/pyshim"
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
	python := ""
	if args[0] != "" {
		p, err := pyshim.VirtualenvPython(args[0])
		if err != nil {
			fmt.Fprintf(os.Stderr, "gowsgi: hook host: %v\n", err)
			return 2
		}
		python = p
	}
	return pyshim.RunScript(exe, python, hooksSource+"\nsys.exit(host_main())\n", []string{exe})
}
