package integration

import (
	"context"
	"encoding/json"
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

// The peer of an IPv6 connection reaches the environ as the client sees
// its own end: address and port.
func TestIPv6PeerAddress(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-b", "[::1]:0", "pep3333:environ"}})
	var v6 string
	for _, l := range s.find("listening") {
		if a := l.str("address"); a[0] == '[' {
			v6 = a
		}
	}
	if v6 == "" {
		t.Fatalf("no IPv6 listener logged")
	}
	w := dialWire(t, "tcp", v6)
	_, clientPort, _ := net.SplitHostPort(w.c.LocalAddr().String())
	resp, body := w.roundTrip("GET", "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	var env map[string]any
	if err := json.Unmarshal([]byte(body), &env); resp.StatusCode != 200 || err != nil {
		t.Fatalf("%d %q: %v", resp.StatusCode, body, err)
	}
	expectEnviron(t, env, map[string]any{"REMOTE_ADDR": "::1", "REMOTE_PORT": clientPort})
}
