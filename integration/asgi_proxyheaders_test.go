package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// TestASGIClientFromProxyHeaders: behind nginx, an ASGI app's scope
// client is the address nginx names in X-Forwarded-For, as under Uvicorn
// (its --proxy-headers is on by default); --no-proxy-headers, or a peer
// not in --forwarded-allow-ips, leaves the peer's own address.
func TestASGIClientFromProxyHeaders(t *testing.T) {
	scopeClient := func(t *testing.T, url string) []any {
		t.Helper()
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var sc map[string]any
		if resp.StatusCode != 200 || json.Unmarshal(body, &sc) != nil {
			t.Fatalf("GET %s: %d %q", url, resp.StatusCode, body)
		}
		client, _ := sc["client"].([]any)
		return client
	}

	s := start(t, serverOpts{args: []string{"-k", "asgi", "asgi_raw:app"}})
	n := startNginxHTTP(t, s.addr)
	// nginx appends its peer, the test: "203.0.113.7, 127.0.0.1".
	if c := scopeClient(t, n.url("/scope")); len(c) != 2 || c[0] != "203.0.113.7" || c[1] != 0.0 {
		t.Errorf("behind nginx: client %v, want [203.0.113.7 0]", c)
	}

	for _, args := range [][]string{{"--no-proxy-headers"}, {"--forwarded-allow-ips", "192.0.2.1"}} {
		s := start(t, serverOpts{args: append(args, "-k", "asgi", "asgi_raw:app")})
		if c := scopeClient(t, s.url("/scope")); len(c) != 2 || c[0] != "127.0.0.1" || c[1] == 0.0 {
			t.Errorf("%v: client %v, want 127.0.0.1 and its port", args, c)
		}
	}
}
