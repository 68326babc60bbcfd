package worker

import (
	"bytes"

	"github.com/gowsgi/gowsgi/engine"
	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/gowsgi/gowsgi/wsgi"
)

// uwsgiScopeOf describes a request that came as a uwsgi packet
// (--protocol uwsgi): the scope is read from the front end's CGI vars
// by the rules the WSGI environ follows (wsgi.UwsgiScope). A packet
// whose HTTP_* vars ask for a WebSocket (isWebSocket) gets this scope
// too, made a websocket one: nginx's uwsgi_pass tunnels the 101 and the
// frames after it, as uWSGI's own websockets behind it rely on.
func (w *asgiCaller) uwsgiScopeOf(r *engine.Request) *pyshim.Scope {
	if w.uwsgi == nil {
		w.uwsgi = new(wsgi.UwsgiScope)
	}
	u, s := w.uwsgi, &w.scope
	u.ReadUwsgi(r.Uwsgi, r.Conn)
	s.HTTPVersion = u.HTTPVersion
	s.Method = string(r.Uwsgi.Method)
	s.Scheme = u.Scheme
	s.Path, s.RawPath, s.Query = u.Path, u.RawPath, u.Query
	s.RootPath = u.ScriptName
	if w.app.pathWithoutRoot && bytes.HasPrefix(u.Path, []byte(u.ScriptName)) { // the environ's PATH_INFO: asgiapp.go
		s.Path = u.Path[len(u.ScriptName):]
	}
	s.Headers = append(s.Headers[:0], u.Headers...)
	s.Client = pyshim.Addr{Host: u.RemoteAddr, Port: atoiOr(u.RemotePort, -1)}
	s.Server = pyshim.Addr{Host: u.ServerName, Port: atoiOr(u.ServerPort, -1)}
	return s
}
