package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
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

// TestUploadWithFullTmpdir: a temporary directory too small for an
// upload (a small tmpfs on /tmp, as containers often mount) fills up
// while the body is spilled; the body then streams to the app, what was
// stored first, and arrives whole. It was a 500.
func TestUploadWithFullTmpdir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a tmpfs: run it as root (make test does)")
	}
	tmp := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", tmp).CombinedOutput(); err != nil {
		t.Fatalf("mount a 2 MiB tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", tmp).Run() })
	s := start(t, serverOpts{args: []string{"bodies:app"}, env: []string{"TMPDIR=" + tmp}})
	post := func(i int, chunked bool) {
		t.Helper()
		u := &upload{size: 3 << 20, chunked: chunked, seed: byte(i)}
		u.send(s.address(), "/digest")
		if want := fmt.Sprintf("%s %d stream", u.sent, u.size); u.err != nil || u.status != 200 || u.answer != want {
			t.Errorf("upload %d (chunked %v): %d %q %v; want 200 %q", i, chunked, u.status, u.answer, u.err, want)
		}
	}
	// The first MiB, read into memory, is stored; the disk fills up
	// while the rest is.
	post(0, false)
	post(1, true)
	// With 1.5 MiB taken, already the first MiB does not fit; once the
	// uploads' files are gone (they go after the response).
	s.waitFor(func() bool {
		var fs syscall.Statfs_t
		return syscall.Statfs(tmp, &fs) == nil && fs.Bfree == fs.Blocks
	})
	if err := os.WriteFile(filepath.Join(tmp, "filler"), make([]byte, 3<<19), 0o600); err != nil {
		t.Fatal(err)
	}
	post(2, false)
	post(3, true)
	if n := len(s.loggedContaining("did not fit in the temporary directory")); n != 1 {
		t.Errorf("%d warnings about the full temporary directory; want 1", n)
	}
	if n := len(s.loggedContaining("cannot accept an upload")); n != 0 {
		t.Errorf("%d uploads refused", n)
	}
}
