package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestNewConnectionsStartClean: a worker reuses the storage of ended
// connections for new ones, so a connection that ended badly (a
// malformed request, a body cut short, a head cut short, a request id
// sent by the client) must leave nothing behind for the next one.
func TestNewConnectionsStartClean(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "1", "pep3333:environ"}})
	// send writes raw on a new connection and, when the server answers,
	// reads until it closes; else it hangs up at once.
	send := func(raw string, answered bool) {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, raw)
		if answered {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			io.ReadAll(c)
		}
	}
	for i := range 10 {
		send("GET /bad path HTTP/1.1\r\nHost: x\r\n\r\n", true)
		send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc", false)
		send("GET /cut HTTP/1.1\r\nHost: x\r\nX-Cut: y", false)
		send("GET /old?q=old HTTP/1.1\r\nHost: old\r\nX-Request-ID: client-id\r\nX-Old: 1\r\nConnection: close\r\n\r\n", true)

		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /new%d?q=%d HTTP/1.1\r\nHost: h%d\r\n\r\nGET /second HTTP/1.1\r\nHost: h%d\r\nConnection: close\r\n\r\n", i, i, i, i)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		for _, want := range []struct{ path, query string }{{fmt.Sprintf("/new%d", i), fmt.Sprintf("q=%d", i)}, {"/second", ""}} {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("round %d, %s: %v", i, want.path, err)
			}
			var env map[string]any
			err = json.NewDecoder(resp.Body).Decode(&env)
			resp.Body.Close()
			if resp.StatusCode != 200 || err != nil {
				t.Fatalf("round %d, %s: status %d, %v", i, want.path, resp.StatusCode, err)
			}
			if env["PATH_INFO"] != want.path || env["QUERY_STRING"] != want.query || env["HTTP_HOST"] != fmt.Sprintf("h%d", i) {
				t.Fatalf("round %d: environ of another request: PATH_INFO %v QUERY_STRING %v HTTP_HOST %v",
					i, env["PATH_INFO"], env["QUERY_STRING"], env["HTTP_HOST"])
			}
			for k := range env {
				if k == "HTTP_X_OLD" || k == "HTTP_X_CUT" || k == "CONTENT_LENGTH" {
					t.Fatalf("round %d, %s: %s left over from an earlier connection", i, want.path, k)
				}
			}
			if id, _ := env["HTTP_X_REQUEST_ID"].(string); id == "client-id" || len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
				t.Fatalf("round %d, %s: request id %q; want a new one", i, want.path, id)
			}
		}
		c.Close()
	}
}
