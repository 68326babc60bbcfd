package integration

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
)

func TestBindsIPv6AndUnixAndFactory(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "gowsgi.sock")
	s := start(t, serverOpts{args: []string{"-b", "[::1]:0", "-b", "unix:" + sock, "basic:make_app('from factory')"}})
	var v6 string
	for _, l := range s.find("listening") {
		if a := l.str("address"); a != s.addr && a[0] == '[' {
			v6 = a
		}
	}
	if v6 == "" {
		t.Fatalf("no IPv6 listener logged")
	}
	for _, url := range []string{s.url("/"), "http://" + v6 + "/"} {
		if code, body := do(t, http.MethodGet, url, ""); code != 200 || body != "from factory" {
			t.Fatalf("GET %s = %d %q", url, code, body)
		}
	}
	unixClient := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	resp, err := unixClient.Get("http://unix/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "from factory" {
		t.Fatalf("over the unix socket: %d %q", resp.StatusCode, b)
	}
}
