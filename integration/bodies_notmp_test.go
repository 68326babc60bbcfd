package integration

import (
	"fmt"
	"path/filepath"
	"testing"
)

// TestUploadWithoutWritableTmpdir: with no writable temporary directory
// (a read-only root file system, an unwritable TMPDIR), an upload over
// --max-buffered-body streams to the app, as one past the disk budget
// does, and a warning says why, once; every such upload was a 500.
func TestUploadWithoutWritableTmpdir(t *testing.T) {
	tmp := filepath.Join(t.TempDir(), "absent")
	s := start(t, serverOpts{args: []string{"bodies:app"}, env: []string{"TMPDIR=" + tmp}})
	for i, chunked := range []bool{false, true, false} {
		u := &upload{size: 3 << 20, chunked: chunked, seed: byte(i)}
		u.send(s.address(), "/digest")
		if want := fmt.Sprintf("%s %d stream", u.sent, u.size); u.err != nil || u.status != 200 || u.answer != want {
			t.Errorf("upload %d (chunked %v): %d %q %v; want 200 %q", i, chunked, u.status, u.answer, u.err, want)
		}
	}
	if n := len(s.loggedContaining("cannot create a temporary file for a request body")); n != 1 {
		t.Errorf("%d warnings about the temporary directory; want 1", n)
	}
}
