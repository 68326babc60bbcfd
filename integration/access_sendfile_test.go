package integration

import (
	"net/http"
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
