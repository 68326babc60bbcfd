package pyshim

import (
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDumpTracebacksWithoutGIL dumps from a goroutine that holds no
// GIL: the output must have a header for the interpreter's threads.
// Stacks of a thread stuck in the app are checked end to end by the
// integration tests (a worker past --timeout).
func TestDumpTracebacksWithoutGIL(t *testing.T) {
	fd, err := unix.MemfdCreate("tracebacks", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "tracebacks")
	defer f.Close()
	if err := DumpTracebacks(f.Fd()); err != nil {
		t.Fatalf("DumpTracebacks: %v", err)
	}
	f.Seek(0, io.SeekStart)
	out, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	if !strings.Contains(text, "hread 0x") || !strings.Contains(text, "(most recent call first):") {
		t.Fatalf("dump = %q; want faulthandler's thread headers", text)
	}
}
