package websocket

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// debianPython is Debian's interpreter, which has Debian's
// python3-websockets (Makefile DEB_PACKAGES); pyenv's has not.
const debianPython = "/usr/bin/python3"

// echoServer is a tiny WebSocket server on this package: the real peer
// test's other end. The request path picks the settings:
//
//	/echo        permessage-deflate as the client offers it
//	/forced      DeflateOptions with no context takeover both ways
//	/plain       permessage-deflate never negotiated
//	/small       messages over 1000 bytes refused (1009)
//
// It echoes messages, answers pings, echoes a Close, and on the text
// "close-me" closes with 4001 itself.
type echoServer struct {
	t  *testing.T
	ln net.Listener
	wg sync.WaitGroup

	mu         sync.Mutex
	compressed map[string]int // path → compressed messages received
	closes     []string       // "path code" of every Close received or sent on failure
}

func startEchoServer(t *testing.T) *echoServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{t: t, ln: ln, compressed: map[string]int{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(60 * time.Second)) // bounds a stuck peer
				if err := s.serve(c); err != nil {
					t.Errorf("server: %v", err)
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *echoServer) note(path, what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closes = append(s.closes, path+" "+what)
}

func (s *echoServer) serve(c net.Conn) error {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return err
	}
	lookup := func(name string) []string {
		if name == "host" && req.Host != "" { // net/http moves Host out of Header
			return []string{req.Host}
		}
		return req.Header.Values(name)
	}
	hs, err := ParseRequest(Request{Method: req.Method, Major: req.ProtoMajor, Minor: req.ProtoMinor, Header: lookup})
	var he *HandshakeError
	if errors.As(err, &he) {
		out := "HTTP/1.1 " + strconv.Itoa(he.Status) + " Refused\r\nConnection: close\r\nContent-Length: " + strconv.Itoa(len(he.Reason)) + "\r\n"
		for _, f := range he.Header {
			out += f[0] + ": " + f[1] + "\r\n"
		}
		_, err := c.Write([]byte(out + "\r\n" + he.Reason))
		return err
	}
	path := req.URL.Path
	var deflate *DeflateParams
	opts := DeflateOptions{}
	if path == "/forced" {
		opts = DeflateOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
	}
	if p, ok := NegotiateDeflate(hs.Extensions, opts); ok && path != "/plain" {
		deflate = &p
	}
	resp := Response{Deflate: deflate, Header: [][2]string{{"X-Server", "gowsgi-test"}}}
	if len(hs.Subprotocols) > 0 {
		resp.Subprotocol = hs.Subprotocols[len(hs.Subprotocols)-1] // the last: not simply the first offered
	}
	out, err := hs.AppendResponse(nil, resp)
	if err != nil {
		return err
	}
	if _, err := c.Write(out); err != nil {
		return err
	}
	max := 0
	if path == "/small" {
		max = 1000
	}
	r := NewReader(br, ReaderOptions{MaxMessage: max, Deflate: deflate})
	w, err := NewWriter(deflate)
	if err != nil {
		return err
	}
	closeSent := false
	for {
		ev, err := r.Next()
		var ce *CloseError
		if errors.As(err, &ce) {
			s.note(path, "failed "+strconv.Itoa(int(ce.Code)))
			out, _ := AppendClose(out[:0], ce.Code, ce.Reason)
			if _, err := c.Write(out); err != nil {
				return err
			}
			// Unread bytes at close would make the kernel reset the
			// connection, and the client could lose the Close frame:
			// stop writing, then read to the client's end (RFC 6455
			// §7.1.1: the server closes the TCP connection first, once
			// the close handshake is done).
			c.(*net.TCPConn).CloseWrite()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err := io.Copy(io.Discard, br)
			return err
		}
		if err != nil {
			return err
		}
		out = out[:0]
		switch ev.Op {
		case OpText, OpBinary:
			if ev.Compressed {
				s.mu.Lock()
				s.compressed[path]++
				s.mu.Unlock()
			}
			if string(ev.Data) == "close-me" {
				out, _ = AppendClose(out, 4001, "server says bye")
				closeSent = true
			} else {
				out = w.AppendMessage(out, ev.Op, ev.Data)
			}
		case OpPing:
			out = AppendPong(out, ev.Data)
		case OpClose:
			s.note(path, "close "+strconv.Itoa(int(ev.Code))+" "+string(ev.Data))
			if !closeSent {
				// RFC 6455 §5.5.1: echo the status code received.
				if out, err = AppendClose(out, ev.Code, string(ev.Data)); err != nil {
					return err
				}
				_, err = c.Write(out)
			}
			return err
		}
		if _, err := c.Write(out); err != nil {
			return err
		}
	}
}

// TestPythonWebsocketsClient runs Debian's python3-websockets as the
// client of echoServer over real TCP: echo with and without compression,
// fragmented messages, ping, close codes both ways, limits, a refused
// handshake and invalid UTF-8.
func TestPythonWebsocketsClient(t *testing.T) {
	if _, err := os.Stat(debianPython); err != nil {
		t.Fatalf("%s: %v (Debian's python3 with python3-websockets: make deps)", debianPython, err)
	}
	s := startEchoServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, debianPython, "testdata/peer_client.py", "ws://"+s.ln.Addr().String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("peer_client.py: %v\n%s", err, out)
	}
	want := []string{"ok echo compressed", "ok fragmented", "ok ping", "ok close 4000", "ok plain",
		"ok no context takeover", "ok server window 10 declined", "ok server close 4001", "ok too big 1009",
		"ok subprotocol", "ok version 426", "ok invalid utf-8 1007", "ok close without code", "ok interleaved ping"}
	for _, w := range want {
		if !strings.Contains(string(out), w+"\n") {
			t.Errorf("peer_client.py did not print %q:\n%s", w, out)
		}
	}
	s.ln.Close()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.compressed["/echo"] == 0 || s.compressed["/forced"] == 0 || s.compressed["/plain"] != 0 {
		t.Errorf("compressed messages received per path: %v", s.compressed)
	}
	for _, c := range []string{"/echo close 4000 done", "/small failed 1009", "/echo failed 1007", "/echo close 1005 ", "/echo close 4001 "} {
		if !strings.Contains(strings.Join(s.closes, "\n"), c) {
			t.Errorf("server did not see %q; saw %q", c, s.closes)
		}
	}
}
