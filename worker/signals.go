package worker

import (
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/rs/zerolog"
)

// An app or a hook that installs a Python handler for a signal the
// worker's Go side handles takes it from Go (pyshim/signals.c): the
// master's TERM would never stop the worker. The worker puts Go's
// handlers back after each piece of Python it runs at boot and every
// second after, and runs the app's handler of a stop signal when that
// signal comes, where Gunicorn's worker would have run it.

// reclaimEvery is how often a serving worker puts back the signal
// handlers Python code took since.
const reclaimEvery = time.Second

// isStopSignal reports whether the app's Python handler of sig runs when
// sig stops the worker.
func isStopSignal(sig syscall.Signal) bool {
	return sig == syscall.SIGTERM || sig == syscall.SIGINT || sig == syscall.SIGQUIT
}

// noteStolen logs each signal Python code took, now Go's again.
func noteStolen(log zerolog.Logger, sigs []syscall.Signal) {
	for _, sig := range sigs {
		e := log.Warn().Int("signal", int(sig))
		if isStopSignal(sig) {
			e = e.Str("then", "the app's handler runs when the signal stops the worker")
		}
		e.Msg("the app installed a handler for a signal gowsgi needs; it was restored")
	}
}

// reclaimSignals puts Go's handlers back where Python code took them.
func reclaimSignals(log zerolog.Logger) {
	noteStolen(log, pyshim.ReclaimSignals())
}

// runAppSignalHandler runs the Python handler the app installed for sig
// (a stop signal), logging what it raised.
func runAppSignalHandler(log zerolog.Logger, sig syscall.Signal) {
	if _, err := pyshim.RunSignalHandler(sig); err != nil {
		log.Error().Str("signal", sig.String()).Msg("the app's handler of the signal raised:\n" + tracebackOf(err))
	}
}
