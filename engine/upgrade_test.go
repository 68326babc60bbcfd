package engine

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/config"
)

// upgradeRoutes answer /echo with a 101 and then echo what the client
// sends, line by line, until it closes or a graceful stop begins, when
// it says "bye" (a WebSocket would close with 1001).
func upgradeRoutes(sessions chan<- string) map[string]route {
	echo := func(u Upgraded) {
		lines := make(chan string)
		go func() {
			defer close(lines)
			br := bufio.NewReader(u)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				lines <- line
			}
		}()
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					sessions <- "client closed"
					return
				}
				u.Write([]byte("echo " + line))
			case <-u.Stopping():
				u.Write([]byte("bye\n"))
				u.SetReadDeadline(time.Now()) // the reader ends before the session does
				for range lines {
				}
				sessions <- "stopped"
				return
			}
		}
	}
	switching := func(extra ...string) Step {
		s := head("101 Switching Protocols", "", append([]string{"Upgrade", "echo"}, extra...)...)
		s.Upgrade = echo
		return s
	}
	return map[string]route{
		"/echo": func(*fakeCaller, *Request, func(Step) bool) []Step { return []Step{switching()} },
		"/not101": func(*fakeCaller, *Request, func(Step) bool) []Step {
			s := head("200 OK", "", "Upgrade", "echo")
			s.Upgrade = echo
			return []Step{s}
		},
		"/noproto": func(*fakeCaller, *Request, func(Step) bool) []Step {
			s := head("101 Switching Protocols", "")
			s.Upgrade = echo
			return []Step{s}
		},
		"/hello": helloRoutes["/hello"],
	}
}

const askUpgrade = "Host: t\r\nConnection: keep-alive, Upgrade\r\nUpgrade: echo\r\n\r\n"

// An app takes a connection over after a 101: the client's bytes that
// came with the request head reach it first, both directions stream,
// and the app's slot serves other requests meanwhile.
func TestUpgradeHandsTheConnectionOver(t *testing.T) {
	sessions := make(chan string, 4)
	app := newFakeApp(t, upgradeRoutes(sessions))
	_, addr := serveFake(t, app, testConfig(t), 1)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /echo HTTP/1.1\r\n"+askUpgrade+"early\n")
	br := bufio.NewReader(c)
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("head %q: %v", head.String(), err)
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	h := head.String()
	for _, want := range []string{"HTTP/1.1 101 Switching Protocols\r\n", "Upgrade: echo\r\n", "Connection: Upgrade\r\n", "X-Request-ID: "} {
		if !strings.Contains(h, want) {
			t.Errorf("head lacks %q:\n%s", want, h)
		}
	}
	if strings.Contains(h, "Content-Length") || strings.Contains(h, "Transfer-Encoding") || strings.Contains(h, "close") {
		t.Errorf("a 101 head with body framing or a close:\n%s", h)
	}
	if line, err := br.ReadString('\n'); line != "echo early\n" {
		t.Fatalf("the bytes sent with the head came back as %q (%v)", line, err)
	}
	// The only slot is free while the session runs.
	if _, body := bodyOf(t, roundTrip(t, addr, get("/hello"))); body != "hello" {
		t.Fatalf("during the session: %q", body)
	}
	io.WriteString(c, "later\n")
	if line, err := br.ReadString('\n'); line != "echo later\n" {
		t.Fatalf("got %q (%v)", line, err)
	}
	c.(*net.TCPConn).CloseWrite()
	if s := <-sessions; s != "client closed" {
		t.Fatalf("session ended with %q", s)
	}
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Fatalf("after the session: %q", rest)
	}
}

// A graceful stop tells an upgraded session, and waits for it.
func TestUpgradedSessionEndsOnGracefulStop(t *testing.T) {
	sessions := make(chan string, 4)
	app := newFakeApp(t, upgradeRoutes(sessions))
	s, addr := serveFake(t, app, testConfig(t), 1)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /echo HTTP/1.1\r\n"+askUpgrade+"ping\n")
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "echo ping\n" {
			break
		}
	}
	s.Drain()
	if got := <-sessions; got != "stopped" {
		t.Fatalf("session ended with %q", got)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "bye\n" {
		t.Fatalf("after the stop the client got %q", rest)
	}
}

// A Step with Upgrade that is not a proper switch is an invalid
// response (500), and a request that did not ask cannot be switched.
func TestUpgradeRefusedUnlessBothSidesAgree(t *testing.T) {
	checkUpgradesRefused(t, testConfig(t), map[string]string{
		"not 101":       "GET /not101 HTTP/1.1\r\n" + askUpgrade,
		"no protocol":   "GET /noproto HTTP/1.1\r\n" + askUpgrade,
		"not asked":     get("/echo"),
		"HTTP/1.0":      "GET /echo HTTP/1.0\r\n" + askUpgrade,
		"only a header": "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\n\r\n",
	})
}

// checkUpgradesRefused sends each request to upgradeRoutes served with
// cfg: each gets a 500 (the app's 101 is an invalid response to it),
// and no session runs.
func checkUpgradesRefused(t *testing.T, cfg *config.Config, requests map[string]string) {
	t.Helper()
	sessions := make(chan string, len(requests))
	app := newFakeApp(t, upgradeRoutes(sessions))
	_, addr := serveFake(t, app, cfg, 1)
	for name, raw := range requests {
		if resp := roundTrip(t, addr, raw); !strings.HasPrefix(resp, "HTTP/1.1 500 ") || !strings.Contains(resp, "invalid response") {
			t.Errorf("%s: %q", name, resp)
		}
	}
	select {
	case s := <-sessions:
		t.Fatalf("a session ran: %s", s)
	default:
	}
}
