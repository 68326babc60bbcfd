// Package worker is one gowsgi worker process: it boots the embedded
// interpreter, loads the app, accepts connections on the listeners the
// master passed, and serves HTTP/1.1 on them, tying httpparse (the
// request), wsgi (environ and response framing) and pyshim (the app)
// together.
//
// Goroutines own the sockets; a Python call never waits on a network
// peer. A pool of pyshim.Exchange slots, sized by --threads, bounds the
// concurrent calls into Python, so waiting requests park as goroutines
// rather than as OS threads blocked on the GIL.
//
// It must not import master.
package worker
