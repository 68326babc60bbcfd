package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// A wsgi.file_wrapper response goes out with sendfile(2), outside the
// app's chunks; the access log must still count its bytes.
func TestAccessLogCountsSendfileBytes(t *testing.T) {
	data, content := randomFile(t, 300_000)
	logPath := filepath.Join(t.TempDir(), "access.log")
	s := start(t, serverOpts{args: []string{"--access-logfile", logPath, "--access-logformat", "%(s)s %(B)s", "pep3333:file_region"}})
	mark := filepath.Join(t.TempDir(), "mark")
	for _, q := range []string{"", "&seek=1000&cl=5000"} {
		if code, body := do(t, http.MethodGet, s.url("/?path="+data+"&mark="+mark+q), ""); code != 200 || len(body) == 0 {
			t.Fatalf("GET file%s = %d, %d bytes", q, code, len(body))
		}
	}
	lines := waitForFileLines(t, s, logPath, 2)
	want := map[string]bool{"200 " + strconv.Itoa(len(content)): true, "200 5000": true}
	for _, l := range lines {
		if !want[l] {
			t.Errorf("access line %q; want one of %v", l, want)
		}
		delete(want, l)
	}
}

// A client that leaves during a wsgi.file_wrapper download is logged
// with the bytes that reached its socket, not the whole file, with and
// without sendfile.
func TestAccessLogCountsOnlySentBytesOfAnAbandonedFile(t *testing.T) {
	const size = 64 << 20
	data := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(data, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range [][]string{nil, {"--no-sendfile"}} {
		logPath := filepath.Join(t.TempDir(), "access.log")
		args := append([]string{"--access-logfile", logPath, "--access-logformat", "%(s)s %(B)s"}, mode...)
		s := start(t, serverOpts{args: append(args, "pep3333:file_region")})
		c := dialWire(t, "tcp", s.addr)
		fmt.Fprintf(c.c, "GET /?path=%s HTTP/1.1\r\nHost: h\r\n\r\n", data)
		if _, err := io.ReadFull(c.br, make([]byte, 256<<10)); err != nil {
			t.Fatal(err)
		}
		c.c.Close()
		lines := waitForFileLines(t, s, logPath, 1)
		var status, sent int
		if _, err := fmt.Sscanf(lines[0], "%d %d", &status, &sent); err != nil || status != 200 || sent >= size/2 {
			t.Fatalf("%v: access line %q for a client that left after 256 KiB of %d; want 200 and the bytes sent", mode, lines[0], size)
		}
	}
}
