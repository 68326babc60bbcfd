// Command gowsgi is a pre-fork HTTP/1.1 WSGI server with Gunicorn's
// command line:
//
//	gowsgi -w 4 -b 127.0.0.1:8000 myapp:app
//
// The same binary is the master and, re-executed with a hidden command,
// each worker. This package only dispatches between the two and turns
// their results into exit codes: it is the only place that calls
// os.Exit. It owns no logic of its own.
package main
