// Package integration holds the end-to-end tests: they build the real
// bin/gowsgi once, start it as a process on port 0, and talk to it over
// real sockets with real signals. There is no non-test code here.
package integration
