package worker

import (
	"runtime"
	"sync/atomic"

	"github.com/gowsgi/gowsgi/engine"
	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/gowsgi/gowsgi/wsgi"
)

// wsgiApp is the engine's App for a WSGI app: a thin adapter over
// pyshim. The engine hands it a parsed request; it builds the PEP 3333
// environ (package wsgi) and runs the app through a pyshim.Exchange,
// turning pyshim's steps into the engine's (docs/engine.md).
type wsgiApp struct {
	// timeouts: --request-timeout is on, so each call records its
	// Python thread for Interrupt.
	timeouts bool
}

func (a wsgiApp) NewCaller() engine.Caller {
	w := &wsgiCaller{py: pyshim.NewExchange(pyshim.MinBuffer), timeouts: a.timeouts}
	w.hook = w.early // one method value for every call
	return w
}

// wsgiCaller runs one request at a time in its pyshim.Exchange.
type wsgiCaller struct {
	py       *pyshim.Exchange
	timeouts bool // immutable
	// ident is the Python thread ident of the goroutine between Enter
	// and Leave, when timeouts; 0 otherwise. Read by Interrupt.
	ident  atomic.Uint64
	hook   func(pyshim.Step) bool
	write  func(engine.Step) bool // Start's write, while Start runs
	fields [][2][]byte            // the headers of the last step, decoded
}

// Enter binds the goroutine to its OS thread until Leave: a generator
// resumed between chunks sees the same thread state (threading.local,
// contextvars), and Interrupt knows which thread to stop.
func (w *wsgiCaller) Enter() {
	runtime.LockOSThread()
	if w.timeouts {
		w.ident.Store(pyshim.ThreadIdent())
	}
}

func (w *wsgiCaller) Leave() {
	w.ident.Store(0)
	runtime.UnlockOSThread()
}

// environOf is the connection's environ storage, kept in r.State
// across its requests; Var reads the last one built.
func environOf(r *engine.Request) *wsgi.Environ {
	env, ok := r.State.(*wsgi.Environ)
	if !ok {
		env = new(wsgi.Environ)
		r.State, r.Var, r.Vars = env, env.Lookup, env.All()
	}
	return env
}

// Prepare builds the environ of r before the engine counts, logs or
// hooks the request (engine.Preparer), as it was before the app ran
// behind an interface: the access log and post_request read it.
func (wsgiApp) Prepare(r *engine.Request) { buildEnviron(r) }

// buildEnviron encodes the environ of r: from the HTTP request, or from
// the packet's vars on a uwsgi connection.
func buildEnviron(r *engine.Request) *wsgi.Environ {
	env := environOf(r)
	if r.Uwsgi != nil {
		env.BuildUwsgi(r.Uwsgi, r.Conn)
	} else {
		env.Build(r.Head, r.Conn, r.BodyLen)
	}
	return env
}

func (w *wsgiCaller) Start(r *engine.Request, write func(engine.Step) bool) engine.Step {
	env := environOf(r) // built by Prepare
	if write != nil {
		w.write = write
		w.py.SetWriteHook(w.hook)
	}
	if fd, ok := r.Socket(); ok {
		w.py.OfferSocket(fd)
	}
	s := w.py.Call(env.Bytes(), pyshim.Body{Data: r.Body.Data, File: r.Body.File})
	if write != nil {
		w.py.SetWriteHook(nil)
		w.write = nil
	}
	return w.step(&s)
}

// early passes a write() block to the engine while the app runs.
func (w *wsgiCaller) early(s pyshim.Step) bool { return w.write(w.step(&s)) }

func (w *wsgiCaller) Next() engine.Step {
	s := w.py.Next()
	return w.step(&s)
}

func (w *wsgiCaller) Open() bool { return w.py.Open() }

func (w *wsgiCaller) Abort() string { return w.py.Abort() }

// Interrupt raises TimeoutError in the call's Python thread. Its
// goroutine is locked to a fresh OS thread for its whole life (the
// thread ends with it): pyshim.Interrupt takes the GIL there.
func (w *wsgiCaller) Interrupt(since *atomic.Int64, began int64) (string, bool) {
	runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
	id := w.ident.Load()
	if id == 0 {
		return "", false // the call left Python (Leave) meanwhile
	}
	return pyshim.Interrupt(id, since, began)
}

func (w *wsgiCaller) Close() { w.py.Close() }

var _ engine.Locator = (*wsgiCaller)(nil)

// Locate tells where the call is, for the --timeout log; any goroutine.
func (w *wsgiCaller) Locate() engine.CallPlace {
	stage, thread := w.py.Where()
	switch stage {
	case pyshim.StageWaiting:
		return engine.CallPlace{Stage: engine.StageWaiting, Thread: thread}
	case pyshim.StageRunning:
		return engine.CallPlace{Stage: engine.StageRunning, Thread: thread}
	}
	return engine.CallPlace{}
}

// step turns pyshim's step into the engine's; the headers are decoded
// into w.fields, valid as the step's other slices are.
func (w *wsgiCaller) step(s *pyshim.Step) engine.Step {
	w.fields = s.AppendHeaders(w.fields[:0])
	return engine.Step{
		HasHead: s.HasHead, Interim: s.Interim, Status: s.Status, Headers: w.fields,
		Body: s.Body, Big: s.Big, File: engine.FileRegion(s.File),
		Done: s.Done, Failed: s.Failed, Traceback: s.Traceback, Taken: s.Taken,
	}
}
