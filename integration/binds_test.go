package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// TestIPv6WildcardTakesIPv4Too: "-b [::]:PORT" serves IPv4 clients as
// well, as under Gunicorn (the system's dual-stack default); IPv4
// clients reach the environ as their IPv4 address. Bound beside
// "0.0.0.0:PORT" (which Gunicorn cannot), it is IPv6-only and both
// binds serve.
func TestIPv6WildcardTakesIPv4Too(t *testing.T) {
	remoteAddr := func(url string) string {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		var env map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&env); resp.StatusCode != 200 || err != nil {
			t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
		}
		return fmt.Sprint(env["REMOTE_ADDR"])
	}

	s := start(t, serverOpts{args: []string{"-b", "[::]:0", "pep3333:environ"}})
	var port string
	for _, l := range s.find("listening") {
		if a := l.str("address"); strings.HasPrefix(a, "[::]:") {
			port = strings.TrimPrefix(a, "[::]:")
		}
	}
	if port == "" {
		t.Fatalf("no [::] listener logged")
	}
	if got := remoteAddr("http://127.0.0.1:" + port + "/"); got != "127.0.0.1" {
		t.Errorf("IPv4 client on [::]: REMOTE_ADDR %q", got)
	}
	if got := remoteAddr("http://[::1]:" + port + "/"); got != "::1" {
		t.Errorf("IPv6 client on [::]: REMOTE_ADDR %q", got)
	}

	port = portFreeOnBothFamilies(t)
	start(t, serverOpts{args: []string{"-b", "0.0.0.0:" + port, "-b", "[::]:" + port, "pep3333:environ"}})
	if got := remoteAddr("http://127.0.0.1:" + port + "/"); got != "127.0.0.1" {
		t.Errorf("IPv4 client with both binds: REMOTE_ADDR %q", got)
	}
	if got := remoteAddr("http://[::1]:" + port + "/"); got != "::1" {
		t.Errorf("IPv6 client with both binds: REMOTE_ADDR %q", got)
	}
}

// portFreeOnBothFamilies finds a port no socket uses on IPv4 or IPv6,
// below Linux's ephemeral range (32768-60999), so no connection of
// another test is given it meanwhile.
func portFreeOnBothFamilies(t *testing.T) string {
	t.Helper()
	for p := 20000 + os.Getpid()%10000; p < 32768; p++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("[::]:%d", p)) // Go's wildcard is dual-stack
		if err == nil {
			ln.Close()
			return strconv.Itoa(p)
		}
	}
	t.Fatal("no free port below 32768")
	return ""
}
