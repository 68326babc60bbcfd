// Package worker is one gowsgi worker process: it boots the embedded
// interpreter, loads the app, runs the config file's hooks, drops
// privileges, reports to the master and answers its signals, and wires
// the connection engine (package engine) to the app through the WSGI
// adapter (wsgiapp.go), which builds the environ (package wsgi) and
// calls the app through pyshim.
//
// It must not import master.
package worker
