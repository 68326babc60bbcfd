package wsgi

import (
	"net"
	"strconv"
	"strings"
)

// NewConn derives the environ keys that belong to a connection rather
// than a request from its two addresses (PEP 3333 "environ Variables").
//
// A unix-socket connection follows Gunicorn: REMOTE_ADDR is "" (the
// peer has no address; an invented 127.0.0.1 would make every proxied
// request look local to apps that trust loopback) and REMOTE_PORT is
// left out. SERVER_NAME falls back to the socket path when a request has
// no Host, and SERVER_PORT to the scheme's default port, because PEP
// 3333 requires both to be non-empty.
//
//	tcp 10.0.0.7:5555 → 127.0.0.1:8000: REMOTE_ADDR "10.0.0.7", REMOTE_PORT "5555",
//	                                     SERVER_NAME "127.0.0.1", SERVER_PORT "8000"
//	unix @ → /run/app.sock:              REMOTE_ADDR "", SERVER_NAME "/run/app.sock", SERVER_PORT "80"
func NewConn(local, remote net.Addr, scheme, scriptName string) Conn {
	c := Conn{Scheme: scheme, ScriptName: scriptName}
	if c.Scheme == "" {
		c.Scheme = "http"
	}
	if a, ok := remote.(*net.TCPAddr); ok {
		c.RemoteAddr, c.RemotePort = a.IP.String(), strconv.Itoa(a.Port)
	}
	switch a := local.(type) {
	case *net.TCPAddr:
		c.ServerName, c.ServerPort = a.IP.String(), strconv.Itoa(a.Port)
	case *net.UnixAddr:
		c.ServerName, c.ServerPort = a.Name, defaultPort(c.Scheme)
		if c.ServerName == "" || c.ServerName == "@" {
			c.ServerName = "localhost" // an unnamed or autobound socket
		}
	default:
		c.ServerName, c.ServerPort = "localhost", defaultPort(c.Scheme)
	}
	return c
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// MountPoint turns the server's SCRIPT_NAME environment variable
// (Gunicorn's way of mounting an app below the root) into the value of
// Conn.ScriptName: a leading slash, no trailing slash, "" for the root.
//
//	"" → "";  "/" → "";  "/app/" → "/app";  "app" → "/app"
func MountPoint(env string) string {
	s := strings.TrimRight(env, "/")
	if s != "" && s[0] != '/' {
		s = "/" + s
	}
	return s
}
