package worker

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/gowsgi/gowsgi/engine"
	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/gowsgi/gowsgi/wsgi"
	"github.com/rs/zerolog"
)

// asgiApp is the engine's App for an ASGI app (--worker-class asgi):
// each request runs as a pyshim.Conn on the worker's one event loop.
// The engine pulls the response a Step at a time (docs/engine.md); a
// Caller turns the app's send() events into Steps and feeds the request
// body to receive() as the app asks for it, so the body is read ahead
// by at most one chunk. Steps block the request's goroutine, never a
// Python thread: the loop goes on with other requests meanwhile.
type asgiApp struct {
	loop *pyshim.Loop // immutable
	// budget is how many bytes of a response the app may send ahead of
	// the engine before its send() awaits.
	budget int
	ws     wsLimits // asgiws.go
	log    zerolog.Logger
	// proxies, when set (--proxy-headers), are the --forwarded-allow-ips
	// peers, whose X-Forwarded-For names the scope's client.
	proxies *wsgi.TrustedPeers
	// pathWithoutRoot: the app's framework routes on path alone and
	// wants it without root_path (Starlette before 0.33): the path goes
	// as it came, as Uvicorn before 0.26 sent it.
	pathWithoutRoot bool
}

func (a *asgiApp) NewCaller() engine.Caller { return &asgiCaller{app: a} }

// asgiCaller runs one request at a time. Only the request's goroutine
// uses its fields, except conn, which Interrupt reads.
type asgiCaller struct {
	app  *asgiApp
	conn atomic.Pointer[pyshim.Conn] // the request in flight; nil between requests
	// events were taken from conn; next is the first not yet applied.
	events []pyshim.Sent
	next   int
	scope  pyshim.Scope     // reused across requests
	uwsgi  *wsgi.UwsgiScope // a uwsgi request's vars; reused
	// mounted holds a path and raw_path given the mount point in front
	// (scopeOf); reused.
	mounted [2][]byte
	body    *bodyFeed // the request's body; nil between requests
	// feed is body's storage, unless the body is a pipe (newBodyFeed).
	feed   bodyFeed
	req    *engine.Request // the request in flight, for its WatchClient; nil between requests
	gone   <-chan struct{} // closed when the client left while the app waited: asgibody.go
	denial bool            // the response is a WebSocket's websocket.http.response: asgiws.go

	status   []byte      // "200 OK", once http.response.start came
	headers  [][2][]byte // its headers
	started  bool        // http.response.start came
	headSent bool        // a Step carried the head
	trailers bool        // the app announced http.response.trailers
	trail    [][2][]byte // the trailer fields of its http.response.trailers events
	bodyDone bool        // the last body event (or pathsend) came
	complete bool        // the response is over: the last Step is Done
	fileLast bool        // the last Step was http.response.pathsend's file
	buf      []byte      // the body bytes of the Step being built
	file     *os.File    // http.response.pathsend's file, until Next or Abort
	// write is Start's, while Start runs: the engine sends an
	// http.response.informational through it.
	write func(engine.Step) bool
	info  []byte // the status line of the last informational head
}

func (w *asgiCaller) Enter() {}
func (w *asgiCaller) Leave() {}
func (w *asgiCaller) Close() {}

func (w *asgiCaller) Start(r *engine.Request, write func(engine.Step) bool) engine.Step {
	w.reset()
	if isWebSocket(r) {
		return w.startWebSocket(r) // asgiws.go
	}
	c, err := w.app.loop.OpenHTTP(w.scopeOf(r), w.app.budget)
	if err != nil {
		return engine.Step{Failed: true, Traceback: err.Error()}
	}
	w.conn.Store(c)
	w.body, w.req = w.newBodyFeed(c, r.Body), r
	// The Step Start returns carries the head: an informational head
	// the app sends before it goes through write (w.informational).
	w.write = write
	s := w.step()
	w.write = nil
	return s
}

func (w *asgiCaller) reset() {
	pyshim.CloseFiles(w.events)
	w.events, w.next = w.events[:0], 0
	w.status, w.headers, w.gone, w.req, w.denial = w.status[:0], nil, nil, nil, false
	clear(w.trail)
	w.trail = w.trail[:0]
	w.started, w.headSent, w.trailers, w.bodyDone, w.complete, w.fileLast = false, false, false, false, false, false
}

func (w *asgiCaller) Next() engine.Step { return w.step() }

func (w *asgiCaller) Open() bool { return w.conn.Load() != nil && !w.complete }

// Abort tells the app its client is gone (http.disconnect; its send()
// raises ClientDisconnected) and leaves the rest of the call to a
// reaper, which logs what the app raised.
func (w *asgiCaller) Abort() string {
	w.closeFile()
	c := w.detach()
	if c == nil {
		return ""
	}
	c.Disconnect(0, "")
	w.reap(c)
	return ""
}

// detach ends the Caller's hold on its request: the body feed stops and
// conn is cleared. It returns the request's Conn, nil if none.
func (w *asgiCaller) detach() *pyshim.Conn {
	w.body.end()
	w.body, w.req = nil, nil
	return w.conn.Swap(nil)
}

// Interrupt cancels the request's task (--request-timeout): the app
// sees CancelledError at its await, and its traceback, logged when the
// task ends, shows where it waited.
func (w *asgiCaller) Interrupt(since *atomic.Int64, began int64) (string, bool) {
	c := w.conn.Load()
	if c == nil || since.Load() != began {
		return "", false
	}
	if c.Cancel() != nil {
		return "", false
	}
	return "(an ASGI task: cancelled; the traceback of its CancelledError follows when it ends)\n", true
}

// maxStepBody bounds the body bytes one Step gathers from the events the
// app queued (up to --response-buffer of them): a response queued whole
// still goes out in pieces, as chunks, with no copy of all of it.
const maxStepBody = 256 << 10

// maxKeptBuf is the largest gathering buffer a Caller keeps between
// responses. Requests rotate through all the slots' Callers (up to
// 1,000 per worker), so each would otherwise keep the largest response
// it ever gathered.
const maxKeptBuf = 64 << 10

// step applies the app's events until it has a Step for the engine: the
// head with the first body bytes, more body, a file, or the end.
func (w *asgiCaller) step() engine.Step {
	w.closeFile()
	w.buf = w.buf[:0]
	c := w.conn.Load()
	if c == nil || w.complete {
		return engine.Step{Done: true}
	}
	if w.fileLast && !w.trailers {
		return w.finishResponse(c) // the file was the response's last part
	}
	for {
		w.growFor(w.events[w.next:])
		for w.next < len(w.events) {
			if len(w.buf) >= maxStepBody && w.started {
				return w.out(engine.Step{}) // the rest of what is queued goes in the next Steps
			}
			ev := &w.events[w.next]
			w.next++
			if s, ok := w.apply(c, ev); ok {
				return s
			}
		}
		if len(w.buf) > 0 && w.started {
			return w.out(engine.Step{}) // what the app sent so far; it has not finished
		}
		if w.gone == nil {
			<-c.Ready() // no select: the usual case, and a cheaper wait
		} else {
			select {
			case <-c.Ready():
			case <-w.gone: // the app waits past the body
				return w.clientGone(c)
			}
		}
		clear(w.events)
		w.events, w.next = c.Take(w.events[:0]), 0
	}
}

// growFor makes room in the gathering buffer, at once, for the body
// bytes of the events queued (up to maxStepBody past what it holds):
// grown by append instead, a buffer dropped after a long response
// (maxKeptBuf) would be copied over and over as it doubles.
func (w *asgiCaller) growFor(events []pyshim.Sent) {
	need := 0
	for i := range events {
		if events[i].Kind == pyshim.SentBody {
			if need += len(events[i].Body); need >= maxStepBody {
				break
			}
		}
	}
	w.buf = slices.Grow(w.buf, need)
}

// apply takes one event into the Step being built and returns the Step
// when it is ready.
func (w *asgiCaller) apply(c *pyshim.Conn, ev *pyshim.Sent) (engine.Step, bool) {
	switch ev.Kind {
	case pyshim.SentWant:
		if w.body.want() {
			w.watchClient()
		}
	case pyshim.SentStart:
		w.status = strconv.AppendInt(w.status[:0], int64(ev.Status), 10)
		w.status = append(append(w.status, ' '), wsgi.ReasonPhrase(ev.Status)...)
		w.headers, w.started, w.trailers = ev.Headers, true, ev.Trailers
	case pyshim.SentBody:
		w.buf = append(w.buf, ev.Body...)
		pyshim.ReleaseBody(ev.Body)
		ev.Body = nil
		if !ev.More {
			w.bodyDone = true
			if !w.trailers {
				return w.finishResponse(c), true
			}
		} else if !w.headSent {
			// A streamed response: its head goes now, without Done, so
			// the engine frames it chunked (as Uvicorn does) even when
			// the rest was queued in the same turn of the loop.
			return w.out(engine.Step{}), true
		}
	case pyshim.SentTrailers:
		// Gathered until the last (more_trailers false), which ends the
		// response: the engine sends them after the last chunk.
		w.trail = append(w.trail, ev.Headers...)
		if !ev.More {
			return w.finishResponse(c), true
		}
	case pyshim.SentInfo:
		w.informational(ev)
	case pyshim.SentPathSend:
		return w.pathsend(c, ev.Path), true
	case pyshim.SentZeroCopy:
		return w.zerocopy(c, ev)
	case pyshim.SentDone:
		return w.ended(ev), true
	}
	return engine.Step{}, false
}

// informational hands an http.response.informational (103 Early Hints)
// to the engine, which sends it at once or drops it (Step.Interim). It
// comes before http.response.start (asgi.py checks), so within Start;
// a client gone meanwhile is seen by the response that follows.
func (w *asgiCaller) informational(ev *pyshim.Sent) {
	if w.write == nil {
		return
	}
	w.info = strconv.AppendInt(w.info[:0], int64(ev.Status), 10)
	w.info = append(append(w.info, ' '), wsgi.ReasonPhrase(ev.Status)...)
	w.write(engine.Step{HasHead: true, Interim: true, Status: w.info, Headers: ev.Headers})
}

// finishResponse returns the Step ending the response. The app's call
// may still run (a background task after the body): a reaper waits for
// its end.
func (w *asgiCaller) finishResponse(c *pyshim.Conn) engine.Step {
	w.complete = true
	s := w.out(engine.Step{Done: true})
	w.detach()
	if w.denial {
		wsOver(c)
	}
	// The call usually ends in the same turn of the loop as its last
	// send: its SentDone is then here already, or queued.
	for range 2 {
		for i := w.next; i < len(w.events); i++ {
			if w.events[i].Kind == pyshim.SentDone {
				w.logDone(&w.events[i])
				w.dropEvents()
				return s
			}
		}
		clear(w.events)
		w.events, w.next = c.Take(w.events[:0]), 0
	}
	w.reap(c)
	w.dropEvents()
	return s
}

// ended is the Step for an app call that returned or raised before its
// response was complete.
func (w *asgiCaller) ended(ev *pyshim.Sent) engine.Step {
	w.detach()
	w.complete = true
	if ev.Traceback == "" {
		ev.Traceback = "the ASGI app returned without completing its response"
	}
	s := w.out(engine.Step{Failed: true, Traceback: ev.Traceback})
	w.dropEvents()
	return s
}

// out completes s with the head, if not yet sent, and the body bytes.
func (w *asgiCaller) out(s engine.Step) engine.Step {
	if w.started && !w.headSent {
		s.HasHead, s.Status, s.Headers = true, w.status, w.headers
		s.TrailersFollow = w.trailers
		w.headSent = true
	}
	if s.Done && !s.Failed {
		s.Trailers = w.trail
	}
	s.Body = w.buf
	if (s.Done || s.Failed) && cap(w.buf) > maxKeptBuf {
		w.buf = nil // the engine's Step keeps its bytes until it has sent them
	}
	return s
}

// dropEvents lets go of the events taken for a response that is over,
// and of the body bytes they hold.
func (w *asgiCaller) dropEvents() {
	pyshim.CloseFiles(w.events)
	clear(w.events)
	w.events, w.next = w.events[:0], 0
}

func (w *asgiCaller) closeFile() {
	if w.file != nil {
		w.file.Close()
		w.file = nil
	}
}

// reap waits, on a goroutine of its own, for the end of an app call
// whose response is over or whose client is gone, and logs what it
// raised: nothing waits for it, the next request on the connection
// included.
func (w *asgiCaller) reap(c *pyshim.Conn) {
	log := w.app.log
	go func() {
		var evs []pyshim.Sent
		for range c.Ready() {
			evs = c.Take(evs[:0])
			pyshim.CloseFiles(evs)
			for i := range evs {
				if evs[i].Kind == pyshim.SentDone {
					logDone(log, &evs[i])
					return
				}
			}
		}
	}()
}

func (w *asgiCaller) logDone(ev *pyshim.Sent) { logDone(w.app.log, ev) }

func logDone(log zerolog.Logger, ev *pyshim.Sent) {
	switch {
	case ev.Traceback == "":
	case ev.ClientGone:
		log.Debug().Msg("the ASGI app ended after its client went away:\n" + ev.Traceback)
	default:
		log.Error().Msg("exception in the ASGI app after its response was complete:\n" + ev.Traceback)
	}
}

// scopeOf describes r for the ASGI scope, in w's reused storage.
func (w *asgiCaller) scopeOf(r *engine.Request) *pyshim.Scope {
	if r.Uwsgi != nil {
		return w.uwsgiScopeOf(r) // asgiuwsgi.go
	}
	s, h, c := &w.scope, r.Head, r.Conn
	s.Path = nil
	s.HTTPVersion = "1.1"
	if h.Minor == 0 {
		s.HTTPVersion = "1.0"
	}
	s.Method = methodString(h.Method)
	s.Scheme = c.Scheme
	s.RawPath, s.Query = h.Path, h.Query
	s.RootPath = c.ScriptName
	// A proxy that strips the mount point sent the path without it: put
	// it back in front, as Uvicorn 0.26+ does (Starlette 0.35+ builds
	// request.url from path alone).
	// An app on an older Starlette gets it as it came (pathWithoutRoot).
	if !w.app.pathWithoutRoot {
		if p, ok := wsgi.AppendMountedPath(w.mounted[0][:0], h.Path, c.ScriptName); ok {
			w.mounted[0] = p
			w.mounted[1] = append(append(w.mounted[1][:0], c.ScriptName...), h.Path...)
			s.Path, s.RawPath = w.mounted[0], w.mounted[1]
		}
	}
	s.Headers = s.Headers[:0]
	for _, f := range h.Headers {
		s.Headers = append(s.Headers, [2][]byte{f.Name, f.Value})
	}
	s.Client = pyshim.Addr{Host: c.RemoteAddr, Port: atoiOr(c.RemotePort, -1)}
	if w.app.proxies != nil && c.Forwarder {
		// As Uvicorn's proxy headers: the port is not forwarded.
		if host := wsgi.ForwardedClient(h.Headers, *w.app.proxies); host != "" {
			s.Client = pyshim.Addr{Host: host, Port: 0}
		}
	}
	s.Server = pyshim.Addr{Host: c.ServerName, Port: atoiOr(c.ServerPort, -1)}
	if c.RemoteAddr == "" && strings.HasPrefix(c.ServerName, "/") {
		s.Server.Port = -1 // a unix socket: [path, None], as Uvicorn gives it
	}
	return s
}

// methodString is m as a string, without an allocation for the
// methods most requests use.
func methodString(m []byte) string {
	switch string(m) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "HEAD":
		return "HEAD"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "PATCH":
		return "PATCH"
	case "OPTIONS":
		return "OPTIONS"
	}
	return string(m)
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}
