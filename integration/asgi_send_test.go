package integration

import (
	"io"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

// TestASGISentBeforeTheLoopBlocks: what the app sent reaches the client
// while the app then blocks the loop without yielding: the client gets
// the first piece, and only then lets the app go on.
func TestASGISentBeforeTheLoopBlocks(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "asgi", "asgi_raw:app"}})
	release := filepath.Join(t.TempDir(), "go-on")
	resp, err := client.Get(s.url("/send-then-block?path=" + url.QueryEscape(release)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, len("first;"))
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "first;" {
		t.Fatalf("the piece sent before the loop blocked: %q %v", first, err)
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(resp.Body); err != nil || string(rest) != "last" {
		t.Fatalf("the rest: %q %v", rest, err)
	}
}
