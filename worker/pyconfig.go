package worker

import (
	_ "embed"
	"fmt"
	"os"

	"github.com/gowsgi/gowsgi/pyshim"
)

//go:embed pyconfig.py
var pyconfigSource string

// ReadPythonConfig is the hidden command config.PythonConfigCommand: it
// executes a Gunicorn config file (a path, file:PATH or python:MODULE)
// with the embedded CPython and writes what it defines to fd 3 as JSON
// for the master's config.Load (protocol in pyconfig.py). args are the
// spec and the virtualenv to run it in ("" for none). It returns the
// process exit code. The master runs it in a process of its own so that
// it stays pure Go.
func ReadPythonConfig(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "gowsgi: the Python config reader is started by gowsgi itself")
		return 2
	}
	exe, _ := os.Executable()
	python := ""
	if args[1] != "" {
		p, err := pyshim.VirtualenvPython(args[1])
		if err != nil {
			fmt.Fprintf(os.Stderr, "gowsgi: reading %s: %v\n", args[0], err)
			return 2
		}
		python = p
	}
	return pyshim.RunScript(exe, python, pyconfigSource, []string{exe, args[0]})
}
