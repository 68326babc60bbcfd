package integration

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestASGIZerocopySend: http.response.zerocopysend (ASGI extensions,
// "Zero Copy Send") sends the region of the app's file it names: the
// whole file, a window, a count past the end cut at the end, and
// regions between body events, from an offset or from the file's
// position, which moves past them. The app closes its file once send()
// returns, and the worker keeps no descriptor of it.
func TestASGIZerocopySend(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "1", "-k", "asgi", "asgi_raw:app"}})
	src, err := os.ReadFile(filepath.Join(appsDir, "asgi_raw.py"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode   string
		body   string
		length int64 // the Content-Length the head says; -1: chunked
	}{
		{"whole", string(src), int64(len(src))},
		{"window", string(src[100:200]), 100},
		{"past-end", string(src[len(src)-4:]), 4},
		{"mixed", "<" + string(src[10:15]) + string(src[20:27]) + string(src[27:30]) + ">30", -1},
	} {
		resp, err := client.Get(s.url("/zerocopy?mode=" + tc.mode))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(body) != tc.body || resp.ContentLength != tc.length {
			t.Errorf("%s: %d, Content-Length %d, %d bytes, %v; want 200, %d, %d bytes %.40q",
				tc.mode, resp.StatusCode, resp.ContentLength, len(body), err, tc.length, len(tc.body), tc.body)
		}
	}

	// The client may have its response before the worker closes the
	// file (at the response's next step), so the count is awaited: it
	// must come back to what it was, not grow by the responses.
	window := func() {
		if code, body := s.get("/zerocopy?mode=window"); code != 200 || body != string(src[100:200]) {
			t.Fatalf("window: %d %q", code, body)
		}
	}
	window() // s.get's connection opens
	pid := s.workerPIDs()[0]
	before := openFiles(t, pid)
	for range 50 {
		window()
	}
	s.waitFor(func() bool { return openFiles(t, pid) <= before })
}

// openFiles counts pid's open descriptors.
func openFiles(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// TestASGIZerocopySendTLS: over TLS the regions are read and encrypted
// in Go (no sendfile), in the same framing.
func TestASGIZerocopySendTLS(t *testing.T) {
	flags, ca := tlsServerFlags(t)
	s := start(t, serverOpts{args: append([]string{"-k", "asgi", "asgi_raw:app"}, flags...)})
	src, err := os.ReadFile(filepath.Join(appsDir, "asgi_raw.py"))
	if err != nil {
		t.Fatal(err)
	}
	tc := &http.Client{Transport: &http.Transport{TLSClientConfig: ca.clientConfig()}, Timeout: 10 * time.Second}
	defer tc.CloseIdleConnections()
	for mode, want := range map[string]string{
		"whole": string(src),
		"mixed": "<" + string(src[10:15]) + string(src[20:27]) + string(src[27:30]) + ">30",
	} {
		resp, err := tc.Get("https://" + s.address() + "/zerocopy?mode=" + mode)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != want {
			t.Errorf("%s over TLS: %d bytes, %v; want %d bytes", mode, len(body), err, len(want))
		}
	}
}
