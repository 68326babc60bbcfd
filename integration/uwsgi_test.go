package integration

import (
	"bufio"
	le "encoding/binary"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUwsgiBehindNginx runs examples/nginx/gowsgi-uwsgi.conf: nginx's
// uwsgi_pass with Debian's uwsgi_params, over TCP and a unix socket.
func TestUwsgiBehindNginx(t *testing.T) {
	for _, transport := range []string{"tcp", "unix"} {
		t.Run(transport, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "gowsgi.sock")
			accessLog := filepath.Join(t.TempDir(), "access.log")
			s := start(t, serverOpts{args: []string{"--protocol", "uwsgi", "-b", "unix:" + sock,
				"--access-logfile", accessLog, "--access-logformat", `"%(r)s" %(s)s %(H)s`, "deploy:app"}})
			upstream := s.addr
			if transport == "unix" {
				upstream = "unix:" + sock
			}
			n := startNginx(t, renderExample(t, "examples/nginx/gowsgi-uwsgi.conf", map[string]string{
				"server 127.0.0.1:8001": "server " + upstream,
			}))
			t.Run("environ from uwsgi_params", func(t *testing.T) {
				env := getEnviron(t, http.DefaultClient, n.url("/environ?q=a%20b"), http.Header{"X-Tag": {"one"}})
				checkEnviron(t, env, map[string]string{
					"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/environ", "QUERY_STRING": "q=a%20b",
					"REQUEST_URI": "/environ?q=a%20b", "RAW_URI": "/environ?q=a%20b", "SERVER_PROTOCOL": "HTTP/1.1",
					"SERVER_PORT": strconv.Itoa(n.port), "REMOTE_ADDR": "127.0.0.1",
					"HTTP_HOST": "127.0.0.1", "HTTP_X_TAG": "one", "wsgi.url_scheme": "http",
					"SERVER_SOFTWARE": "gowsgi",
				})
				if env["REMOTE_PORT"] == "" || env["REMOTE_PORT"] == "0" {
					t.Errorf("REMOTE_PORT %q; want the client's port as nginx saw it", env["REMOTE_PORT"])
				}
				// The access log shows the client's protocol, not the
				// HTTP/1.0 framing gowsgi answers nginx in.
				if lines := waitForFileLines(t, s, accessLog, 1); lines[0] != `"GET /environ?q=a%20b HTTP/1.1" 200 HTTP/1.1` {
					t.Errorf("access line %q", lines[0])
				}
			})
			t.Run("mounted with modifier1 30", func(t *testing.T) {
				env := getEnviron(t, http.DefaultClient, n.url("/app/environ"), nil)
				checkEnviron(t, env, map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/environ"})
			})
			t.Run("upload 10 MiB", func(t *testing.T) { checkUpload(t, n.url("/upload"), 10<<20) })
			t.Run("streaming response", func(t *testing.T) { checkStreaming(t, n.url(streamPath)) })
		})
	}
}

// TestUwsgiBehindApache runs mod_proxy_uwsgi from examples/apache.
func TestUwsgiBehindApache(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--protocol", "uwsgi", "deploy:app"}})
	h := startApache(t, renderExample(t, "examples/apache/gowsgi-uwsgi.conf", map[string]string{
		"uwsgi://127.0.0.1:8001/": "uwsgi://" + s.addr + "/",
	}))
	env := getEnviron(t, http.DefaultClient, h.url("/uwsgi/environ?q=1"), http.Header{"X-Tag": {"one"}})
	checkEnviron(t, env, map[string]string{
		"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/uwsgi", "PATH_INFO": "/environ", "QUERY_STRING": "q=1",
		"REMOTE_ADDR": "127.0.0.1", "HTTP_X_TAG": "one", "wsgi.url_scheme": "http",
	})
	checkUpload(t, h.url("/uwsgi/upload"), 10<<20)
}

// TestUwsgiMagicVarsIgnored sends the uWSGI "magic" vars that would make
// a uWSGI server load other code, change directory or switch scheme, as
// a front end's uwsgi_param could: gowsgi serves its own app unchanged
// and the app never sees them.
func TestUwsgiMagicVarsIgnored(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "imported")
	evil := filepath.Join(t.TempDir(), "evil.py")
	code := "open(" + pyQuote(marker) + ", 'w').close()\ndef application(e, s):\n    s('200 OK', [])\n    return [b'evil']\n"
	if err := os.WriteFile(evil, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, serverOpts{args: []string{"--protocol", "uwsgi", "deploy:app"}})
	status, body := uwsgiRequest(t, "tcp", s.addr, uwsgiPacket(0,
		"REQUEST_METHOD", "GET", "PATH_INFO", "/environ", "UWSGI_FILE", evil, "UWSGI_SCRIPT", "evil:application",
		"UWSGI_MODULE", "evil", "UWSGI_CALLABLE", "application", "UWSGI_CHDIR", "/",
		"UWSGI_PYHOME", "/nonexistent", "UWSGI_SCHEME", "https", "UWSGI_TOUCH_RELOAD", marker,
		"uwsgi_pyhome", "/x", "SERVER_SOFTWARE", "nginx/1.22.1"))
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	env := decodeEnviron(t, []byte(body))
	if env["cwd"] != appsDir || env["wsgi.url_scheme"] != "http" {
		t.Errorf("cwd %q, scheme %q; want %s and http", env["cwd"], env["wsgi.url_scheme"], appsDir)
	}
	// An ordinary CGI var the front end sent is kept, over gowsgi's own.
	if env["SERVER_SOFTWARE"] != "nginx/1.22.1" {
		t.Errorf("SERVER_SOFTWARE %q; want the one sent", env["SERVER_SOFTWARE"])
	}
	for k := range env {
		if strings.HasPrefix(strings.ToUpper(k), "UWSGI_") {
			t.Errorf("%s reached the app", k)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("UWSGI_FILE was imported")
	}
}

// TestUwsgiMalformedPackets: each broken packet gets the connection
// closed without an answer, and one log line; the worker serves on.
func TestUwsgiMalformedPackets(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--protocol", "uwsgi", "deploy:app"}})
	good := uwsgiPacket(0, "REQUEST_METHOD", "GET", "PATH_INFO", "/environ")
	tests := []struct {
		name   string
		packet []byte
		errMsg string // in the log line's error
	}{
		{"var length past the end", append([]byte{0, 3, 0, 0}, 0xff, 0x00, 'A'), "runs past the end"},
		{"PSGI modifier1", uwsgiPacket(5, "REQUEST_METHOD", "GET"), "unsupported modifier1"},
		{"no REQUEST_METHOD", uwsgiPacket(0, "PATH_INFO", "/"), "no REQUEST_METHOD"},
		{"two CONTENT_LENGTH", uwsgiPacket(0, "REQUEST_METHOD", "POST", "CONTENT_LENGTH", "0", "CONTENT_LENGTH", "4"),
			"appears twice"},
		{"CONTENT_LENGTH not a number", uwsgiPacket(0, "REQUEST_METHOD", "POST", "CONTENT_LENGTH", "-1"),
			"CONTENT_LENGTH"},
		{"closed inside the vars", good[:len(good)-3], "closed inside a packet"},
		{"body shorter than CONTENT_LENGTH", append(uwsgiPacket(0, "REQUEST_METHOD", "POST", "CONTENT_LENGTH", "10"),
			"abc"...), "before CONTENT_LENGTH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(s.find("bad uwsgi request; connection closed"))
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(tt.packet)
			c.(*net.TCPConn).CloseWrite()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if got, err := io.ReadAll(c); err != nil || len(got) != 0 {
				t.Fatalf("read %q, %v; want the connection closed without an answer", got, err)
			}
			s.waitFor(func() bool { return len(s.find("bad uwsgi request; connection closed")) > before })
			last := s.find("bad uwsgi request; connection closed")[before]
			if !strings.Contains(last.str("error"), tt.errMsg) {
				t.Fatalf("logged %q; want it to mention %q", last.str("error"), tt.errMsg)
			}
		})
	}
	if status, _ := uwsgiRequest(t, "tcp", s.addr, good); status != 200 {
		t.Fatalf("after the malformed packets: status %d", status)
	}
}

// TestUwsgiAllowFrom: a TCP peer outside --uwsgi-allow-from gets a 403
// and a log line; unix-socket peers are always allowed.
func TestUwsgiAllowFrom(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "gowsgi.sock")
	s := start(t, serverOpts{args: []string{"--protocol", "uwsgi", "--uwsgi-allow-from", "192.0.2.1",
		"-b", "unix:" + sock, "deploy:app"}})
	packet := uwsgiPacket(0, "REQUEST_METHOD", "GET", "PATH_INFO", "/environ")
	if status, body := uwsgiRequest(t, "tcp", s.addr, packet); status != http.StatusForbidden {
		t.Fatalf("from 127.0.0.1: %d %q; want 403", status, body)
	}
	s.waitFor(func() bool { return len(s.find("uwsgi request from a peer not in --uwsgi-allow-from")) == 1 })
	if status, body := uwsgiRequest(t, "unix", sock, packet); status != http.StatusOK {
		t.Fatalf("over the unix socket: %d %q; want 200", status, body)
	}
}

// uwsgiPacket encodes a request packet as nginx does.
func uwsgiPacket(modifier1 byte, kv ...string) []byte {
	var block []byte
	for _, s := range kv {
		block = le.LittleEndian.AppendUint16(block, uint16(len(s)))
		block = append(block, s...)
	}
	head := []byte{modifier1, 0, 0, 0}
	le.LittleEndian.PutUint16(head[1:3], uint16(len(block)))
	return append(head, block...)
}

// uwsgiRequest sends one packet and reads the HTTP response that comes
// back until the server closes the connection.
func uwsgiRequest(t *testing.T, network, addr string, packet []byte) (int, string) {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(packet); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return resp.StatusCode, string(body)
}

func pyQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

// TestUwsgiSilentPeerDoesNotHoldStop: a connection that has not sent its
// packet yet is idle, so TERM stops the worker at once rather than after
// the header timeout or the graceful timeout.
func TestUwsgiSilentPeerDoesNotHoldStop(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--protocol", "uwsgi", "--graceful-timeout", "20", "deploy:app"}})
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The worker has the connection once a request on a second one is served.
	if status, _ := uwsgiRequest(t, "tcp", s.addr, uwsgiPacket(0, "REQUEST_METHOD", "GET", "PATH_INFO", "/environ")); status != 200 {
		t.Fatalf("status %d", status)
	}
	begun := time.Now()
	s.signal(syscall.SIGTERM)
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if took := time.Since(begun); took > 5*time.Second {
		t.Fatalf("the stop took %v with a silent uwsgi peer connected", took)
	}
}
