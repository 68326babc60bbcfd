package pyshim

import "testing"

var sink int

// TestGoNilPointerStillPanics: crash.c's handler, installed before the
// Go runtime starts, is only forwarded the faults outside Go code: a nil
// pointer in Go code is still Go's recoverable panic, not a crash.
func TestGoNilPointerStillPanics(t *testing.T) {
	var p *int
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a nil pointer in Go code")
		}
	}()
	sink = *p
}
