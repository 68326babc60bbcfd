package engine

import (
	"iter"
	"os"
	"sync/atomic"

	"github.com/gowsgi/gowsgi/httpparse"
	"github.com/gowsgi/gowsgi/httpparse/uwsgiproto"
	"github.com/gowsgi/gowsgi/wsgi"
)

// The application side of the engine (docs/engine.md). The engine owns
// the sockets, the parsing, the request body, the framing of the
// response and every wait on a client; the application only computes:
// it is given a request and hands back its response one Step at a time.
// The engine never waits on a client while it holds a slot (a Caller on
// loan), and the application never touches a socket.

// App makes the Callers the engine runs requests with: one per slot
// (Options.Slots), and spares that stand in for a Caller kept by a
// response parked on a slow client.
type App interface {
	NewCaller() Caller
}

// Preparer is an App that derives what it needs of each request before
// the request is counted, logged or shown to a hook (WSGI: the environ).
// Prepare runs on the connection's goroutine, without a slot, once per
// request, before any Caller sees it; what it builds it keeps in
// r.State, where the access log (Request.Var) may read it from another
// goroutine while Start runs (a quick stop logs the requests in flight).
type Preparer interface {
	Prepare(r *Request)
}

// Caller runs one request at a time. The engine calls its methods from
// the goroutine that serves the request, one at a time, except
// Interrupt; between Enter and Leave that goroutine stays the same.
type Caller interface {
	// Enter is called on the goroutine that will serve a request with
	// this Caller, before anything of the request reaches the app (the
	// pre_request hook included); Leave once the response is over and
	// the Caller closed the app's part of it. WSGI binds the goroutine
	// to its OS thread in between (a Python thread state, threading.local).
	Enter()
	Leave()
	// Start gives the app the request r and returns the first Step.
	// write, when not nil, receives the Steps the app produces before
	// Start returns (PEP 3333's write(); an event-driven app's sends
	// while its first call still runs) and reports whether the client
	// still takes them; after a write with a head the Steps Start and
	// Next return carry none. write runs on the goroutine inside Start
	// and must not call the Caller.
	Start(r *Request, write func(Step) bool) Step
	// Next continues an open response after the previous Step was sent.
	Next() Step
	// Open reports whether the response is still open: Next or Abort
	// must follow.
	Open() bool
	// Abort ends an open response early (the client went away, the
	// head was invalid) and returns the traceback of what the app
	// raised while closing, if anything. A no-op when nothing is open.
	Abort() (traceback string)
	// Interrupt asks the call that began at began to stop (--request-
	// timeout), if it still runs: since is the slot's clock, which
	// reads began while it does. It returns the call's stack and
	// whether it was asked. It runs on a goroutine of its own that ends
	// when it returns.
	Interrupt(since *atomic.Int64, began int64) (stack string, raised bool)
	// Close releases the Caller; no response is open.
	Close()
}

// Request is what the app is given of one request. The engine keeps it
// with the connection and refills it for each request; the app reads it
// during Start, and what it keeps past Start it copies, or keeps in
// State.
type Request struct {
	// Head is the parsed request, the request id header included
	// (--request-id-header); for a uwsgi request (Uwsgi != nil) it is
	// the packet's method, path and query, and the packet's vars are
	// the request.
	Head  *httpparse.Request
	Uwsgi *uwsgiproto.Packet
	// Conn is the connection: addresses (PROXY protocol's source when
	// there is one), scheme (TLS, trusted X-Forwarded-Proto), the mount
	// point and the TLS variables. The CGI names of its fields are what
	// the WSGI environ uses; an ASGI scope derives client, server and
	// scheme from the same values.
	Conn *wsgi.Conn
	// BodyLen is the request body's length when the request declares
	// one (Content-Length, or chunked and read whole), else -1.
	BodyLen int64
	Body    Body
	// State belongs to the app: the engine keeps it with the connection
	// across its requests and never reads it. An adapter keeps there
	// what it builds of a request (Preparer) and what must outlive
	// Start (WSGI: the environ, which Var and the post_request hook
	// read).
	State any
	// Var, when set by the app, looks a request variable up as the app
	// sees it, for the access log's %({name}e)s; it may be called until
	// the next request on the connection begins. Vars, set with it,
	// lists them all, for the atoms Python's logging gets.
	Var  func(name string) (string, bool)
	Vars iter.Seq2[[]byte, []byte]

	c *conn // the connection, for WatchClient (watch.go)
}

// Body is the request body: in memory (Data), or File: a file that
// holds it whole from offset 0 (a big upload spilled to disk), or a pipe
// that streams it, fed by the engine as the client sends, with
// backpressure (bodyStream). Data is ignored when File is set; the app
// reads a duplicate of File's descriptor, or File itself until the
// response is done.
type Body struct {
	Data []byte
	File *os.File
}

// Step is what one call into the app produced. Its slices belong to the
// Caller: valid until the next Start, Next or Abort on it.
type Step struct {
	// HasHead: Status and Headers are set (the first Step with body
	// bytes, or the last Step, whichever comes first).
	HasHead bool
	// Interim, with HasHead, on a Step passed to Start's write before
	// the response's head: an informational head (1xx but 101: 103
	// Early Hints) to send at once; it has no body. The engine sends it
	// to an HTTP/1.1 client, and drops it for one that cannot take it
	// (HTTP/1.0, RFC 9110 §15.2; a uwsgi peer), after the head, or when
	// it is invalid (logged).
	Interim bool
	Status  []byte      // e.g. "200 OK"; validated by the engine
	Headers [][2][]byte // name, value; validated by the engine
	Body    []byte      // body bytes the Caller copied out of the app
	Big     []byte      // then body bytes sent straight from the app's memory
	// File, when File.Len > 0, comes after Body and Big: part of a
	// regular file for the engine to send itself (sendfile). It is the
	// last body part of the Step. A Step with the head and a File is
	// taken for the whole body when it has no Big (knownBodyLen): a
	// Caller with more to send after a File sends the head in a Step
	// before it (an ASGI zerocopysend with more_body).
	File FileRegion
	// Done: the response is complete and closed; no Next or Abort
	// follows.
	Done bool
	// Failed: the app raised or broke the protocol; Traceback says what.
	// Without a head nothing was produced, and the engine answers 500
	// (504 after Interrupt); with one, the connection is cut.
	Failed    bool
	Traceback string // may also be set on success (close() raised)
	// TrailersFollow, on the Step with the head, says that the response
	// ends with a trailer section (Trailers): the engine then frames the
	// body chunked rather than by a Content-Length it would compute
	// from a body it already holds whole.
	TrailersFollow bool
	// Trailers, on the last Step (Done), are the response's trailer
	// fields, sent after the last chunk (RFC 9112 §7.1.2). They are
	// validated as header fields are, and framing, routing and control
	// fields are refused (RFC 9110 §6.5.1): an invalid one is logged and
	// the connection cut without the last chunk. When the response is
	// not chunked (an HTTP/1.0 client, the app's Content-Length, a HEAD
	// request) they are dropped, as RFC 9110 §6.5.1 allows a recipient.
	Trailers [][2][]byte
	// Upgrade, on a Step Start returns, takes the connection over (a
	// WebSocket, RFC 6455): the Step must be a complete 101 Switching
	// Protocols with an Upgrade header, to a request that asked for one
	// (else the client gets a 500). The engine sends the head, gives the
	// slot back and calls Leave, then calls Upgrade on the connection's
	// goroutine; the connection closes when it returns.
	Upgrade func(Upgraded)
	// Taken, on the last Step Start returns (Done), says that the app
	// used the client connection it was offered (Request.Socket) to speak
	// an upgraded protocol itself: nothing more is written, whatever else
	// the Step says, and the connection closes. Traceback, if set, is an
	// error the app ended with (no error to the client).
	Taken bool
}

// FileRegion is part of an open regular file. Fd stays open until the
// next Next or Abort; the engine reads it with positional reads only.
type FileRegion struct {
	Fd     int
	Offset int64
	Len    int64
}

// Hooks are the server hooks that run around each request (Gunicorn's
// pre_request and post_request); nil runs none. req and resp are
// Gunicorn's req and resp objects as plain values (strings latin-1
// decoded, as Gunicorn's); key names the request from pre_request to
// post_request. They run on the request's goroutine: PreRequest between
// Enter and Start (a failure answers 500), PostRequest after the
// response, with the Request the app was given.
type Hooks interface {
	// Runs reports which of the two run; read once, by New. The engine
	// describes requests and keeps response headers only for those.
	Runs() (pre, post bool)
	// PreRequest returns what the hook changed of req, nil for nothing:
	// the app is given the request as the hook left it (hookchange.go).
	PreRequest(req map[string]any, key string) (*RequestChange, error)
	PostRequest(req, resp map[string]any, key string, r *Request)
}

// RequestChange is what a pre_request hook changed of req, of what
// Gunicorn's wsgi.create reads after the hook to build the environ. The
// worker decodes it from worker/hooks.py's JSON (Request._changes). The
// strings are Python's: each code point must be latin-1 (U+0000 to
// U+00FF), a byte of the request. A nil field is unchanged.
type RequestChange struct {
	Method *string `json:"method"`
	URI    *string `json:"uri"`   // RAW_URI
	Path   *string `json:"path"`  // PATH_INFO, still percent-encoded
	Query  *string `json:"query"` // QUERY_STRING
	Scheme *string `json:"scheme"`
	// Headers, when the list changed, is all of it: (name, value) pairs,
	// names as the hook gave them (Gunicorn's are upper case).
	Headers *[][2]string `json:"headers"`
	// Version: req.version changed. Not applied: the response's framing
	// and keep-alive follow the version the client sent.
	Version bool `json:"version"`
}
