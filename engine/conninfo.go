package engine

import (
	"cmp"
	"net"
	"os"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/wsgi"
)

// mountPoint is SCRIPT_NAME (an ASGI scope's root_path) for every
// request: --root-path, else the server's SCRIPT_NAME environment
// variable, Gunicorn's mount-point convention for WSGI. New reads it
// after startPython applied --env.
func mountPoint(cfg *config.Config) string {
	return wsgi.MountPoint(cmp.Or(cfg.RootPath, os.Getenv("SCRIPT_NAME")))
}

// connInfo derives the environ's connection keys once per connection.
func (s *Server) connInfo(nc net.Conn) wsgi.Conn {
	return wsgi.NewConn(nc.LocalAddr(), nc.RemoteAddr(), "http", s.mount)
}
