// Package pyshim is gowsgi's only boundary with CPython and the only
// package that uses cgo. It owns the embedded interpreter (PyConfig
// initialisation with Go keeping every signal), loading the WSGI app,
// and running one request/response exchange per call: the environ, a
// C-implemented start_response, iterating the result and close().
//
// It knows nothing of sockets or HTTP parsing: it takes an environ
// already encoded by package wsgi and returns the app's status, headers
// and body bytes for the caller to validate and frame. It must not
// import httpparse, wsgi, worker or master.
//
// The request path in C: interp.c (interpreter, thread states, loading the app),
// environ.c (the environ dict), startresp.c (start_response, write(),
// the head), exchange.c (calling the app, walking its result, close()),
// input.c (wsgi.input over the caller's body memory), errors.c
// (wsgi.errors lines to a Go sink). Go receives the body as Steps:
// bytes copied into the Exchange's buffer, big chunks in place, and the
// file regions of wsgi.file_wrapper results for sendfile.
//
// ASGI: asgi.go (Loop: one asyncio or uvloop event loop on an OS thread
// of its own, lifespan, liveness), asgiconn.go (Conn: one request or
// WebSocket; the scope's encoding), asgi.c (the event queue Go posts
// into and the loop drains, woken through an eventfd), asgiscope.c (the
// scope dict, built in C), asgiout.c and asgiout.go (the app's send():
// queued in C, taken by Go in batches, one eventfd wake-up per batch;
// the loop thread never calls into Go) and asgi.py (the
// Python side: cycles, protocol checks, lifespan). Go never waits on
// the loop while holding the GIL and the loop never waits on a socket:
// the app's events are copied to Go, and send() awaits only when its
// connection owes a whole budget.
//
// The --preload zygote in C: zygote.c (the process that forks the
// workers and its protocol with the master) and preload.c (its Python:
// importing the app once, adopting the interpreter in a forked worker).
//
// Threads: Init and LoadApp run on the locked main OS thread and leave
// it holding the GIL until ReleaseMain. Every other function may be
// called from any goroutine, without the GIL; each takes the GIL with
// the current OS thread's cached thread state and releases it before
// returning, so the GIL is never held while Go does socket I/O.
package pyshim
