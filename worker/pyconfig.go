package worker

import (
	_ "embed"
	"fmt"
	"os"

	"github.com/gowsgi/gowsgi/pyshim"
)

//go:embed pyconfig.py
var pyconfigPy string

// pyconfigSource is pyconfig.py with the gunicorn module stand-in it
// uses.
var pyconfigSource = gunicornModule + pyconfigPy

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
	return runScript("reading "+args[0], "<gowsgi>/pyconfig.py", args[1], pyconfigSource, []string{exe, args[0]})
}

// runScript runs source as the main module of the embedded CPython,
// compiled as file (for tracebacks), with sys.argv argv, in the
// virtualenv venv ("" for none), for the hidden commands that give the
// master a Python process; what names the command in the one line a bad
// virtualenv gets. It returns the exit code.
func runScript(what, file, venv, source string, argv []string) int {
	python := ""
	if venv != "" {
		p, err := pyshim.VirtualenvPython(venv)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gowsgi: %s: %v\n", what, err)
			return 2
		}
		python = p
	}
	exe, _ := os.Executable()
	return pyshim.RunScript(exe, python, pythonRunAs(file, source, "globals()"), argv)
}
