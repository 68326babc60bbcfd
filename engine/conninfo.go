package engine

import (
	"net"
	"os"
	"sync"

	"github.com/gowsgi/gowsgi/wsgi"
)

// mountPoint is SCRIPT_NAME for every request: the server's SCRIPT_NAME
// environment variable, Gunicorn's mount-point convention. It is read on
// the first connection, after startPython applied --env.
var mountPoint = sync.OnceValue(func() string { return wsgi.MountPoint(os.Getenv("SCRIPT_NAME")) })

// connInfo derives the environ's connection keys once per connection.
func connInfo(nc net.Conn) wsgi.Conn {
	return wsgi.NewConn(nc.LocalAddr(), nc.RemoteAddr(), "http", mountPoint())
}
