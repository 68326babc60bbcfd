package worker

import (
	"fmt"
	"os"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/errorlog"
)

// CheckApp is --check-config: it starts Python and imports the app as a
// worker would (same --chdir, --pythonpath, --env, --virtualenv), in
// the calling process, and returns 0 when the app loads or 1, with
// Python's traceback in the log on stderr, when it does not (Gunicorn's
// exit codes). Only warnings and errors are logged.
func CheckApp(cfg *config.Config) int {
	c := *cfg
	c.ErrorLog, c.LogLevel = "-", "warning" // the reason goes to the terminal
	elog, err := errorlog.Open(c.ErrorLogOptions())
	if err != nil {
		fmt.Fprintf(os.Stderr, "gowsgi: %v\n", err)
		return 1
	}
	defer elog.Close()
	if startPython(&c, elog.Logger("check"), nil) != 0 { // Gunicorn runs no hook here either
		return 1
	}
	return 0
}
