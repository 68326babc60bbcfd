// Command floor is the per-request floor for `make bench`: a Go HTTP/1.1
// responder that answers every request with the same canned 13-byte
// response, with no Python and no real parsing. Whatever gowsgi spends
// above it per request is the price of its parser, environ, cgo call and
// Python; everything below it is the kernel's loopback TCP and Go's net
// poller, which gowsgi cannot avoid.
//
//	floor -b 127.0.0.1:8000
//
// It reads header lines up to the blank line (request bodies are not
// supported: the hello workload sends none), keeps the connection open
// unless the request says "Connection: close", and writes one response
// per request with one write, as gowsgi does.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
)

const body = "Hello, World!"

var (
	keepAliveResponse = []byte("HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Type: text/plain\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body))
	closeResponse = []byte("HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Type: text/plain\r\nConnection: close\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body))
	connectionField = []byte("connection:")
	closeToken      = []byte("close")
)

func main() {
	addr := flag.String("b", "127.0.0.1:8000", "listen on `HOST:PORT`")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			continue
		}
		go serve(c)
	}
}

// serve answers the requests of one connection until it closes.
func serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 4096)
	for {
		closeAfter, err := readHead(br)
		if err != nil {
			return
		}
		resp := keepAliveResponse
		if closeAfter {
			resp = closeResponse
		}
		if _, err := c.Write(resp); err != nil || closeAfter {
			return
		}
	}
}

// readHead consumes one request head and reports whether it asked for
// the connection to close.
func readHead(br *bufio.Reader) (closeAfter bool, err error) {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return false, err
		}
		if len(line) <= 2 {
			return closeAfter, nil
		}
		if len(line) > len(connectionField) &&
			bytes.EqualFold(line[:len(connectionField)], connectionField) &&
			bytes.Contains(bytes.ToLower(line), closeToken) {
			closeAfter = true
		}
	}
}
