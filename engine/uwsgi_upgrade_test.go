package engine

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// rawPacket frames key/value pairs as a uwsgi request packet.
func rawPacket(kv ...string) string {
	var block []byte
	for _, s := range kv {
		block = binary.LittleEndian.AppendUint16(block, uint16(len(s)))
		block = append(block, s...)
	}
	head := []byte{0, 0, 0, 0}
	binary.LittleEndian.PutUint16(head[1:3], uint16(len(block)))
	return string(head) + string(block)
}

// upgradePacket is what nginx's uwsgi_params make of a request asking
// to switch to the "echo" protocol, with extra vars after it.
func upgradePacket(extra ...string) string {
	return rawPacket(append([]string{"REQUEST_METHOD", "GET", "REQUEST_URI", "/echo", "PATH_INFO", "/echo",
		"SERVER_PROTOCOL", "HTTP/1.1", "HTTP_HOST", "t", "HTTP_UPGRADE", "echo", "HTTP_CONNECTION", "keep-alive, Upgrade"},
		extra...)...)
}

// On a uwsgi connection (nginx's uwsgi_pass tunnels a 101 as proxy_pass
// does) the packet's HTTP_UPGRADE and HTTP_CONNECTION ask for the
// switch: the 101 head goes out, the bytes after the packet reach the
// session first, and both directions stream.
func TestUpgradeOverUwsgi(t *testing.T) {
	sessions := make(chan string, 4)
	app := newFakeApp(t, upgradeRoutes(sessions))
	_, addr := serveFake(t, app, testConfig(t, "--protocol", "uwsgi"), 1)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, upgradePacket()+"early\n")
	br := bufio.NewReader(c)
	resp, err := readHead(br)
	if err != nil {
		t.Fatalf("head %q: %v", resp, err)
	}
	for _, want := range []string{"HTTP/1.1 101 Switching Protocols\r\n", "Upgrade: echo\r\n", "Connection: Upgrade\r\n"} {
		if !strings.Contains(resp, want) {
			t.Errorf("head lacks %q:\n%s", want, resp)
		}
	}
	if line, err := br.ReadString('\n'); line != "echo early\n" {
		t.Fatalf("the bytes sent after the packet came back as %q (%v)", line, err)
	}
	io.WriteString(c, "later\n")
	if line, err := br.ReadString('\n'); line != "echo later\n" {
		t.Fatalf("got %q (%v)", line, err)
	}
	c.(*net.TCPConn).CloseWrite()
	if s := <-sessions; s != "client closed" {
		t.Fatalf("session ended with %q", s)
	}
}

// A packet that does not ask for the switch in full cannot be switched:
// the app's 101 is an invalid response (500).
func TestUpgradeOverUwsgiRefusedUnlessAsked(t *testing.T) {
	checkUpgradesRefused(t, testConfig(t, "--protocol", "uwsgi"), map[string]string{
		"HTTP/1.0": rawPacket("REQUEST_METHOD", "GET", "REQUEST_URI", "/echo", "SERVER_PROTOCOL", "HTTP/1.0",
			"HTTP_UPGRADE", "echo", "HTTP_CONNECTION", "Upgrade"),
		"no Connection: upgrade": rawPacket("REQUEST_METHOD", "GET", "REQUEST_URI", "/echo",
			"HTTP_UPGRADE", "echo", "HTTP_CONNECTION", "keep-alive"),
		"empty Upgrade": rawPacket("REQUEST_METHOD", "GET", "REQUEST_URI", "/echo",
			"HTTP_UPGRADE", "", "HTTP_CONNECTION", "Upgrade"),
		"no Upgrade":   rawPacket("REQUEST_METHOD", "GET", "REQUEST_URI", "/echo", "HTTP_CONNECTION", "Upgrade"),
		"Upgrade, CGI": rawPacket("REQUEST_METHOD", "GET", "REQUEST_URI", "/echo", "UPGRADE", "echo", "HTTP_CONNECTION", "Upgrade"),
	})
}

// readHead reads a response head up to its empty line.
func readHead(br *bufio.Reader) (string, error) {
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		head.WriteString(line)
		if err != nil || line == "\r\n" {
			return head.String(), err
		}
	}
}

// A request whose body streams (it fits neither budget) cannot switch
// protocols: the stream still reads the socket the new protocol would.
// One whose body was read ahead can.
func TestNoUpgradeWhileABodyStreams(t *testing.T) {
	body := randomBody(100 << 10)
	req := fmt.Appendf(nil, "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\nConnection: Upgrade\r\nContent-Length: %d\r\n\r\n%s",
		len(body), body)
	for _, tc := range []struct {
		name      string
		mem, disk int64
		want      bool
	}{
		{"read ahead", 1 << 20, 1 << 20, true},
		{"streamed", 0, 0, false},
	} {
		c := bodyTestConn(t, req, tc.mem, tc.disk, 0)
		if err := c.readBody(); err != nil {
			t.Fatal(err)
		}
		if got := c.asksUpgrade(); got != tc.want {
			t.Errorf("%s: asksUpgrade() = %v; want %v", tc.name, got, tc.want)
		}
		c.body.release()
	}
}
