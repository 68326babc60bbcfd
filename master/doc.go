// Package master is the gowsgi arbiter: it binds the listening sockets,
// starts the workers by re-executing its own binary, and supervises
// them: signals, respawns and stops. It never runs Python.
//
// One goroutine (arbiter.loop) owns all supervisor state; signal
// handlers, the reaper and the workers' control pipes only send it
// events. Process effects go through the small osEffects seam so the
// supervision logic is tested without real processes.
//
// It builds with CGO_ENABLED=0 and must not import pyshim, wsgi or
// worker.
package master
