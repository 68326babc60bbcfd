// Package archtest holds gowsgi's import rules as tests, so that they
// are kept by `make test` rather than by comments: which package may
// never depend on which (the never-arrows of the design: the master
// stays pure Go and never reaches Python, the parsers stay stdlib-only,
// configuration sits below both processes), which package alone may use
// cgo, and which package alone may end the process.
//
// The rules are written once, in imports_test.go; README.md ("How the
// code is arranged") says why the packages are arranged this way. The
// tests read the real build graph with `go list -deps -test -json ./...`
// and the real source with go/parser, so a new import, file or package
// is checked the moment it exists.
package archtest
