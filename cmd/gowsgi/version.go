package main

import (
	"cmp"
	"fmt"

	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/urfave/cli/v2"
)

// showEmbeddedPython makes gowsgi --version name the CPython the binary
// embeds, on a second line, so a user can tell which Python serves
// their app:
//
//	gowsgi version v1.2.0
//	CPython 3.13.0 (shared libpython /opt/py/lib/libpython3.13.so.1.0), built for /opt/py/bin/python3
func showEmbeddedPython() {
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Fprintf(c.App.Writer, "%s version %s\n%s\n", c.App.Name, c.App.Version, pyshim.EmbeddedPython())
	}
}

// logEmbeddedPython says at start-up which CPython the workers run.
func logEmbeddedPython(elog *errorlog.Log) {
	py := pyshim.EmbeddedPython()
	log := elog.Logger("master")
	log.Info().Str("python", py.Version).Str("python_executable", py.Interpreter).
		Str("libpython", cmp.Or(py.Library, "static")).Msg("starting gowsgi on CPython " + py.Version)
}
