package integration

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFilesWithoutSendfile: wsgi.file_wrapper files go out with
// sendfile(2), or, where it refuses them, by hand. Under a seccomp filter
// making sendfile fail with EIO the response is cut: sendfile is in use.
// With --no-sendfile (Gunicorn's flag) the same file arrives whole; and
// where sendfile says it cannot (EPERM, as a container's profile would;
// EINVAL, as some file systems do) gowsgi falls back by itself.
func TestFilesWithoutSendfile(t *testing.T) {
	data, content := randomFile(t, 300_000)
	launcher := filepath.Join(appsDir, "..", "seccomp_exec.py")
	serve := func(t *testing.T, errno unix.Errno, flags ...string) *server {
		args := append([]string{launcher, fmt.Sprintf("%d:%d", unix.SYS_SENDFILE, errno), "--",
			binary, "--chdir", appsDir, "-b", "127.0.0.1:0", "-w", "1"}, flags...)
		return start(t, serverOpts{bare: true, binary: "/usr/bin/python3", args: append(args, "pep3333:file_region")})
	}
	get := func(t *testing.T, s *server) ([]byte, error) {
		resp, err := http.Get(s.url("/?path=" + data + "&mark=" + filepath.Join(t.TempDir(), "mark")))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}

	t.Run("sendfile in use", func(t *testing.T) {
		s := serve(t, unix.EIO)
		if body, err := get(t, s); err == nil && bytes.Equal(body, content) {
			t.Fatal("the file arrived whole although sendfile fails: it was not sent with sendfile")
		}
	})
	for _, tc := range []struct {
		name  string
		errno unix.Errno
		flags []string
	}{
		{"--no-sendfile", unix.EIO, []string{"--no-sendfile"}},
		{"sendfile refused by seccomp", unix.EPERM, nil},
		{"sendfile unable", unix.EINVAL, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, tc.errno, tc.flags...)
			for range 2 { // and the connection stays usable
				body, err := get(t, s)
				if err != nil || !bytes.Equal(body, content) {
					t.Fatalf("got %d of %d bytes (%v)", len(body), len(content), err)
				}
			}
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.workerPIDs()[0]))
			if err != nil || !bytes.Contains(status, []byte("\nSeccomp:\t2\n")) {
				t.Fatal("the worker runs without the seccomp filter: the test proves nothing")
			}
		})
	}
}
