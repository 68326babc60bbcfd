// Package accesslog formats and writes the access log with Gunicorn's
// --access-logformat atoms, e.g.
//
//	%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"
//	→ 127.0.0.1 - - [25/Nov/2026:15:43:24 +0000] "GET /?q=1 HTTP/1.1" 200 13 "-" "curl/7.88.1"
//
// Values are escaped so a line can never be forged or broken by what a
// client sends: in a format that starts with '{' (a JSON template, the
// case Gunicorn cannot escape, gunicorn#2457) values are JSON-escaped;
// otherwise '"', '\' and bytes outside printable ASCII become \xHH, as
// nginx does.
//
// It is pure Go (no cgo), imports only the standard library, and knows
// nothing of Python or of the worker that feeds it.
package accesslog
