package accesslog

import (
	"errors"
	"syscall"
	"testing"
)

// TestRefusedLinesAreReportedOnce: a file that refuses lines (a full
// disk: /dev/full) is reported once per run of refusals, not per line.
func TestRefusedLinesAreReportedOnce(t *testing.T) {
	w, err := Open("/dev/full")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var got []error
	w.OnFailure(func(err error) { got = append(got, err) })
	w.WriteLine([]byte("a"))
	w.WriteLine([]byte("b"))
	if len(got) != 1 || !errors.Is(got[0], syscall.ENOSPC) {
		t.Fatalf("failures reported: %v; want one ENOSPC", got)
	}
}
