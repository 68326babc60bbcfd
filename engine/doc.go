// Package engine is gowsgi's connection engine: it accepts connections
// on a worker's listeners and serves HTTP/1.1 (or the uwsgi protocol)
// on them, tying httpparse (the request) and wsgi (response framing)
// together, and calls the application through the App interface it
// defines (app.go, docs/engine.md).
//
// Goroutines own the sockets; a call into the app never waits on a
// network peer. A pool of slots, each lending a Caller, bounds the
// concurrent calls into the app, so waiting requests park as
// goroutines rather than as OS threads blocked on the GIL.
//
// It is pure Go: it must not import pyshim, worker or master
// (internal/archtest), so it builds with CGO_ENABLED=0 and its tests run
// under -race against an application written in Go.
package engine
