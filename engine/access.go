package engine

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gowsgi/gowsgi/accesslog"
	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/httpparse"
	"github.com/gowsgi/gowsgi/wsgi"
	"github.com/rs/zerolog"
)

// AccessLog writes one line per response with --access-logformat, and
// with a Python logging configuration gives each response's atoms to
// Python's logging (accesspy.go). Immutable once UsePython returned it,
// before the server serves; the Writer serialises the lines of the
// connection goroutines.
type AccessLog struct {
	format *accesslog.Format
	w      *accesslog.Writer      // nil without an access log file or syslog
	syslog *errorlog.SyslogSender // the lines' copy for syslog; nil for none
	pid    int
	// respHeaders: the format, or Python's atoms, show response
	// headers, so each response keeps a copy of them until it is logged.
	respHeaders bool
	// lines: w writes each response's line; false when a logging
	// configuration took gunicorn.access over (UsePython).
	lines bool
	// py takes each response's atoms for Python's logging; nil for none.
	py AccessRecords
	// asgi: the atoms are those of Gunicorn's asgi worker.
	asgi bool
}

// OpenAccessLog opens --access-logfile, and with --log-syslog sends the
// lines to syslog too, as Gunicorn does even without an access log file
// (unless --disable-redirect-access-to-syslog). With a Python logging
// configuration or a logger class it opens the log even when its lines
// go nowhere, for UsePython to give the atoms to Python's logging. Nil
// when there is nothing to log.
func OpenAccessLog(cfg *config.Config) (*AccessLog, error) {
	toSyslog := cfg.AccessToSyslog()
	configured := cfg.LogConfigDict != "" || cfg.LogConfigJSON != "" || cfg.LogConfig != "" || cfg.LoggerClass != ""
	if cfg.AccessLog == "" && !toSyslog && !configured {
		return nil, nil
	}
	f, err := accesslog.ParseOpen(cfg.AccessLogFormat) // config checked its atoms
	if err != nil {
		return nil, err
	}
	a := &AccessLog{format: f, pid: os.Getpid(), respHeaders: f.Uses('o')}
	if cfg.AccessLog == "" && !toSyslog {
		return a, nil
	}
	w, err := accesslog.Open(cfg.AccessLog)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	a.w, a.lines = w, true
	if toSyslog {
		if a.syslog, err = errorlog.DialSyslog(*cfg.SyslogOptions(), "access"); err != nil {
			w.Close()
			return nil, fmt.Errorf("access log: %w", err)
		}
		w.Tee(func(line []byte) { a.syslog.Send(errorlog.SeverityInfo, line) })
	}
	return a, nil
}

// WarnOnFailure logs a warning when the access log file refuses a line
// (a full disk), once until it takes lines again: meanwhile its lines
// are lost, and the log's end is the only other sign.
func (a *AccessLog) WarnOnFailure(log zerolog.Logger) {
	if a != nil && a.w != nil {
		a.w.OnFailure(func(err error) {
			log.Warn().Err(err).Msg("cannot write the access log; its lines are lost until it can")
		})
	}
}

// WriteLine writes line, made by a Python logger class's handler, to
// the access log file and syslog, where the engine's own lines go.
func (a *AccessLog) WriteLine(line []byte) {
	if a.w != nil {
		a.w.WriteLine(line)
	}
}

// accessRecord is what the access log needs to know of the response in
// progress. Owned by the connection's serve goroutine, except live,
// logged and start, which are guarded by the conn's mu so that
// logUnfinished, on another goroutine, and logAccess write the line of a
// request once between them.
type accessRecord struct {
	live   bool // between beginAccess and the end of logAccess
	logged bool // logUnfinished wrote this request's line
	start  time.Time

	status   int
	produced int64 // body bytes the app produced, before framing
	plan     wsgi.Plan
	planned  bool // plan is set: the app's head was valid
	// respHeaders holds the response headers as name, value, name, ...
	// when the format shows any; its backing array is reused.
	respHeaders [][]byte
	headerBuf   []byte
}

// noteHead records the app's valid response head.
func (c *conn) noteHead(step *Step, plan wsgi.Plan) {
	r := &c.acc
	r.status, r.plan, r.planned = statusCode(step.Status), plan, true
	if a := c.access(); (a != nil && a.respHeaders) || c.srv.postHook {
		r.headerBuf, r.respHeaders = r.headerBuf[:0], r.respHeaders[:0]
		for _, f := range step.Headers {
			name, value := f[0], f[1]
			at := len(r.headerBuf)
			r.headerBuf = append(append(r.headerBuf, name...), value...)
			r.respHeaders = append(r.respHeaders, r.headerBuf[at:at+len(name)], r.headerBuf[at+len(name):])
		}
	}
}

// noteError records a response the server wrote itself.
func (c *conn) noteError(status int, bodyLen int) {
	c.acc.status, c.acc.produced, c.acc.planned = status, int64(bodyLen), false
}

// Reopen reopens the file by name, after logrotate moved it (USR1).
func (a *AccessLog) Reopen() error {
	if a.w == nil {
		return nil
	}
	return a.w.Reopen()
}

// Close closes the file and the syslog connection.
func (a *AccessLog) Close() error {
	if a.syslog != nil {
		a.syslog.Close()
	}
	if a.w == nil {
		return nil
	}
	return a.w.Close()
}

func (c *conn) access() *AccessLog {
	if c.srv.extras == nil {
		return nil
	}
	return c.srv.extras.Access
}

// statusCode reads the code of a validated status line such as "200 OK".
func statusCode(status []byte) int {
	if len(status) < 3 {
		return 0
	}
	n, _ := strconv.Atoi(string(status[:3]))
	return n
}

// sent is the number of body bytes that went to the client: none for a
// HEAD or a 204/304, at most Content-Length when the app sent more.
func (r *accessRecord) sent() int64 {
	if !r.planned {
		return r.produced
	}
	switch r.plan.Framing {
	case wsgi.FrameNone:
		return 0
	case wsgi.FrameLength:
		return min(r.produced, r.plan.ContentLength)
	}
	return r.produced
}

// beginAccess marks the request, whose environ is built, as being
// answered since now; logAccess ends it.
func (c *conn) beginAccess(now time.Time) {
	if c.access() != nil {
		c.mu.Lock()
		c.acc.live, c.acc.logged, c.acc.start = true, false, now
		c.mu.Unlock()
	}
}

// logAccess writes the access line of the request being answered, so a
// response cut short (the client left, the app failed mid-body) still
// gets its line with the bytes sent so far; then it resets the record
// for the next request.
func (c *conn) logAccess(start, end time.Time) {
	a := c.access()
	if a == nil {
		return
	}
	r := &c.acc
	c.mu.Lock()
	rec := c.accPy.record[:0]
	if !r.logged {
		resp := r.respHeaders
		switch {
		case !r.planned:
			resp = nil // the server's own response (noteError): no head of the app's
		case resp == nil:
			resp = [][]byte{} // the app's head, without fields
		}
		rec = c.writeAccessLine(a, rec, start, end, r.status, r.sent(), resp)
		c.accPy.record = rec
	}
	*r = accessRecord{respHeaders: r.respHeaders[:0], headerBuf: r.headerBuf[:0]}
	c.mu.Unlock()
	if len(rec) > 0 {
		a.py.Add(rec, false) // out of the lock: it may wait for Python
	}
}

// Statuses logged for requests a worker dies with; the client gets no
// response at all, its connection is cut.
const (
	StatusTimedOut = http.StatusGatewayTimeout     // the master aborts a call that outlived --timeout
	StatusStopped  = http.StatusServiceUnavailable // a quick stop (INT, QUIT)
)

// LogUnfinished writes the line of every request still being answered,
// with status, before the worker dies with them: StatusTimedOut when the
// master aborts a call that outlived --timeout, StatusStopped on a quick
// stop.
// Response headers and bytes, which the serve goroutines may be writing,
// are left out. The records for Python's logging are written before it
// returns, unless a handler holds them up past unfinishedFlush. Safe to
// call from any goroutine.
func (s *Server) LogUnfinished(status int) {
	if s.extras == nil || s.extras.Access == nil {
		return
	}
	a := s.extras.Access
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		var rec []byte
		c.mu.Lock()
		if c.acc.live && !c.acc.logged {
			rec = c.writeAccessLine(a, nil, c.acc.start, time.Now(), status, 0, nil)
			c.acc.logged = true
		}
		c.mu.Unlock()
		if len(rec) > 0 {
			a.py.Add(rec, true)
		}
	}
	if a.py != nil {
		a.py.Flush(unfinishedFlush)
	}
}

// writeAccessLine writes the line of the current request, resp being
// its response headers as name, value, ...; it returns the request's
// record for Python's logging appended to rec, or rec when there is
// none. The caller holds c.mu, and adds the record once it let go.
func (c *conn) writeAccessLine(a *AccessLog, rec []byte, start, end time.Time, status int, sent int64, resp [][]byte) []byte {
	var e accesslog.Entry
	// The request as the app got it (a pre_request hook may have changed
	// it), as Gunicorn's access log reads req.headers and the environ.
	r := c.appHead()
	e.ReqHeader = func(name string) []byte { return lastRequestHeader(r.Headers, name) }
	e.Environ = c.appReq.Var
	e.RespHeader = func(name string) []byte { return responseHeader(resp, name) }
	e.RemoteAddr = c.info.RemoteAddr
	if e.RemoteAddr == "" {
		e.RemoteAddr = "-" // a unix-socket peer
	}
	e.Method, e.RawURI, e.Path, e.Query = r.Method, r.Target, r.Path, r.Query
	e.Proto = "HTTP/1.1"
	switch {
	case c.uwsgi != nil:
		// The client's protocol as the front end saw it: the request's
		// own Minor 0 is only the framing gowsgi answers the front end in.
		e.Proto = "HTTP/1.0"
		if v, ok := c.uwsgi.Get("SERVER_PROTOCOL"); ok && len(v) > 0 {
			e.Proto = string(v)
		}
	case c.req.Minor == 0:
		e.Proto = "HTTP/1.0"
	}
	e.Status, e.Bytes = status, sent
	e.Start, e.Duration, e.PID = start, end.Sub(start), a.pid
	if a.lines {
		a.w.Log(a.format, &e)
	}
	if a.py != nil {
		rec = c.appendAtoms(a, rec, &e, resp)
	}
	return rec
}

// appHead is the request as the app is given it: the client's, or the
// copy a pre_request hook changed (hookchange.go).
func (c *conn) appHead() *httpparse.Request {
	if c.appReq.Head != nil {
		return c.appReq.Head
	}
	return &c.req // no request given to the app yet
}

// requestHeader returns the first field named name (lower-case), or nil.
func requestHeader(hs []httpparse.Header, name string) []byte {
	for i := range hs {
		if httpparse.EqualFoldASCII(hs[i].Name, name) {
			return hs[i].Value
		}
	}
	return nil
}

// lastRequestHeader returns the last field named name (lower-case), or
// nil: the access log's %({name}i)s, which Gunicorn takes from a dict
// that each repeated field updates.
func lastRequestHeader(hs []httpparse.Header, name string) []byte {
	for i := len(hs) - 1; i >= 0; i-- {
		if httpparse.EqualFoldASCII(hs[i].Name, name) {
			return hs[i].Value
		}
	}
	return nil
}

// responseHeader returns the last field named name (lower-case) of the
// fields stored as name, value, ..., or nil: %({name}o)s, as Gunicorn's
// dict has it.
func responseHeader(pairs [][]byte, name string) []byte {
	for i := len(pairs) - 2; i >= 0; i -= 2 {
		if httpparse.EqualFoldASCII(pairs[i], name) {
			return pairs[i+1]
		}
	}
	return nil
}
