package engine

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/httpparse/uwsgiproto"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// uwsgiTestConn is a connection whose reads come from r, on a server
// with only what serveUwsgi reads before the app.
func uwsgiTestConn(r io.Reader) *conn {
	cfg := &config.Config{Protocol: config.ProtocolUwsgi, UwsgiAllowIPs: []string{"127.0.0.1"},
		HeaderTimeout: time.Second, BodyTimeout: time.Second}
	srv := &Server{cfg: cfg, log: zerolog.Nop(), uwsgi: newUwsgiFront(cfg, zerolog.Nop()),
		maxBufferedBody: 1 << 20, bodies: &bodyBudgets{mem: budget{limit: 64 << 20}, disk: budget{limit: 1 << 30}}}
	// A socket whose peer is gone: only its read deadline is used.
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		panic(err)
	}
	unix.Close(fds[1])
	l := newGate(1, 0, false)
	l.add()
	sk, err := newSock(fds[0], l, nil, nil)
	if err != nil {
		panic(err)
	}
	return &conn{srv: srv, nc: sk, br: bufio.NewReader(r)}
}

func TestReadUwsgiBody(t *testing.T) {
	tests := []struct {
		name    string
		input   io.Reader
		n       int64
		want    string
		wantErr error
	}{
		{name: "whole", input: bytes.NewReader([]byte("hello, world")), n: 5, want: "hello"},
		{name: "a byte at a time", input: iotest.OneByteReader(bytes.NewReader([]byte("hello"))), n: 5, want: "hello"},
		{name: "empty", input: bytes.NewReader(nil), n: 0, want: ""},
		{name: "short", input: bytes.NewReader([]byte("hel")), n: 5, wantErr: errUwsgiBodyTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := uwsgiTestConn(tt.input)
			defer c.body.release()
			err := c.readAhead(&uwsgiBody{r: c.br, remaining: tt.n}, tt.n)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v; want %v", err, tt.wantErr)
			}
			if err == nil && string(c.body.mem.data) != tt.want {
				t.Fatalf("body %q; want %q", c.body.mem.data, tt.want)
			}
		})
	}
}

// A front end's CONTENT_LENGTH is a promise, not an allocation: a huge
// one followed by a few bytes costs a few bytes (it fits no budget, so
// it streams), and the app sees the body cut short.
func TestReadUwsgiBodyGrowsWithWhatArrives(t *testing.T) {
	c := uwsgiTestConn(bytes.NewReader(make([]byte, 10)))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := c.readAhead(&uwsgiBody{r: c.br, remaining: 1 << 40}, 1<<40)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	got, rerr := io.ReadAll(c.body.appBody().File)
	c.body.release()
	if len(got) != 10 || !errors.Is(rerr, unix.ECONNRESET) {
		t.Fatalf("the app read %d bytes, then %v; want 10, then a reset", len(got), rerr)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("allocated %d bytes for 10 received", grew)
	}
}

func TestRequestFromPacket(t *testing.T) {
	tests := []struct {
		name                                string
		vars                                []string
		wantTarget, wantPath, wantQuery, ip string
		wantMethod                          string
		wantLength                          int64
	}{
		{name: "nginx", vars: []string{"REQUEST_METHOD", "POST", "REQUEST_URI", "/a%20b?x=1", "PATH_INFO", "/a b",
			"QUERY_STRING", "x=1", "CONTENT_LENGTH", "3", "REMOTE_ADDR", "203.0.113.5"},
			wantMethod: "POST", wantTarget: "/a%20b?x=1", wantPath: "/a%20b", wantQuery: "x=1", ip: "203.0.113.5", wantLength: 3},
		{name: "no REQUEST_URI", vars: []string{"REQUEST_METHOD", "GET", "PATH_INFO", "/p", "QUERY_STRING", "q"},
			wantMethod: "GET", wantPath: "/p", wantQuery: "q", ip: "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := uwsgiTestConn(bytes.NewReader(nil))
			c.info.RemoteAddr = "10.0.0.1"
			p := readTestPacket(t, tt.vars...)
			c.requestFromPacket(p)
			r := &c.req
			if string(r.Method) != tt.wantMethod || string(r.Target) != tt.wantTarget || string(r.Path) != tt.wantPath ||
				string(r.Query) != tt.wantQuery || r.ContentLength != tt.wantLength {
				t.Fatalf("request %q %q %q %q %d", r.Method, r.Target, r.Path, r.Query, r.ContentLength)
			}
			if r.Minor != 0 || r.KeepAlive {
				t.Fatalf("Minor %d, KeepAlive %v; want the HTTP/1.0 framing of one request per connection", r.Minor, r.KeepAlive)
			}
			if c.info.RemoteAddr != tt.ip {
				t.Fatalf("RemoteAddr %q; want %q", c.info.RemoteAddr, tt.ip)
			}
		})
	}
}

func readTestPacket(t *testing.T, kv ...string) *uwsgiproto.Packet {
	t.Helper()
	var block []byte
	for _, s := range kv {
		block = binary.LittleEndian.AppendUint16(block, uint16(len(s)))
		block = append(block, s...)
	}
	head := [4]byte{}
	binary.LittleEndian.PutUint16(head[1:3], uint16(len(block)))
	var p uwsgiproto.Packet
	if err := p.Parse(head, block); err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestNewUwsgiFront(t *testing.T) {
	if f := newUwsgiFront(&config.Config{Protocol: config.ProtocolHTTP}, zerolog.Nop()); f != nil {
		t.Fatal("an HTTP server got a uwsgi front")
	}
	f := newUwsgiFront(&config.Config{Protocol: config.ProtocolUwsgi, UwsgiAllowIPs: []string{"10.0.0.0/8"}}, zerolog.Nop())
	for addr, want := range map[net.Addr]bool{
		&net.TCPAddr{IP: net.ParseIP("10.1.2.3")}:  true,
		&net.TCPAddr{IP: net.ParseIP("127.0.0.1")}: false,
		&net.UnixAddr{Name: "@", Net: "unix"}:      true,
	} {
		if got := f.peers.Trusts(addr); got != want {
			t.Errorf("Trusts(%v) = %v; want %v", addr, got, want)
		}
	}
	// An unusable list (Load never lets one through) leaves unix peers only.
	f = newUwsgiFront(&config.Config{Protocol: config.ProtocolUwsgi, UwsgiAllowIPs: []string{"nginx"}}, zerolog.Nop())
	if f.peers.Trusts(&net.TCPAddr{IP: net.ParseIP("127.0.0.1")}) || !f.peers.Trusts(&net.UnixAddr{Name: "@", Net: "unix"}) {
		t.Fatal("a broken allow-list must fail closed for TCP and keep unix peers")
	}
}
