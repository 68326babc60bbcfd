//go:build gowsgi_testhooks

package engine

import "bytes"

// Only in a binary built with -tags gowsgi_testhooks (the integration
// tests' bin/gowsgi-testhooks): a request with the header
// X-Gowsgi-Test-Panic: AT panics at that point of serving it (see the
// calls of testPanic), to test panic containment (panic.go).
func init() {
	testPanicHook = func(c *conn, at string) {
		for _, h := range c.req.Headers {
			if bytes.EqualFold(h.Name, []byte("X-Gowsgi-Test-Panic")) && string(h.Value) == at {
				panic("test panic at " + at)
			}
		}
	}
}
