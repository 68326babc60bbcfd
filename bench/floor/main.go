// Command floor is the per-request floor for `make bench`: a Go HTTP/1.1
// responder that answers every request with a canned response, with no
// Python and no real parsing. Whatever gowsgi spends above it per request
// is the price of its parser, environ, cgo call and Python; everything
// below it is the kernel's loopback TCP, Go's net poller and, for the
// big bodies, copying the bytes through the socket, which gowsgi cannot
// avoid. Its req/s also shows what the client and the kernel allow on
// the machine: where wrk's own core is busy all the run, no server gets
// much further with the same client.
//
//	floor -b 127.0.0.1:8000 [-workload hello|big|bigfile|chunks|upload]
//
// The workload picks the answer: the body and the app's headers of
// bench/apps.py's app of that name, byte for byte, and the framing gowsgi
// gives it. The head is the floor's own, as it always was for hello
// (Server: floor first; no Date or X-Request-ID, so it is some 80 bytes
// shorter than gowsgi's):
//
//	hello   200 text/plain "Hello, World!" with Content-Length, one write
//	big     1 MiB of "x" with Content-Length, head and body in one write
//	bigfile big's head, then the 1 MiB file apps.bigfile serves
//	        (BENCH_BIGFILE, written here too if missing) with sendfile(2),
//	        with at most 16 KiB left unsent on the socket, as gowsgi does
//	chunks  64 × 16 KiB of "c" in chunked coding, one write per chunk: the
//	        head goes with the first, the last-chunk marker with the last
//	upload  reads the request's Content-Length body fully (64 KiB reads)
//	        and answers its length in decimal, text/plain, one write
//
// It reads header lines up to the blank line and honours only
// Content-Length (the body is read, and discarded, before the answer),
// "Expect: 100-continue" (curl sends it with a large body; wrk does not)
// and "Connection: close", after which it closes the connection; chunked
// request bodies are not supported (neither wrk nor curl sends one here).
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
)

// answer is one workload's canned response, in the writes that send it.
type answer struct {
	keepAlive [][]byte // the writes of a keep-alive response
	close     [][]byte // the same with Connection: close
	upload    bool     // read the request body and answer its length
	file      string   // sendfile this file after the writes
}

const (
	bigSize   = 1024 * 1024
	chunkSize = 16 * 1024
	nChunks   = 64
)

// head is a response head: the status line, Server, the app's headers,
// then the framing and Connection: close. A Content-Length among the app's
// headers goes last, after Connection, so that hello's answer stays byte
// for byte what the floor always sent.
func head(headers [][2]string, chunked, closeAfter bool) []byte {
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\nServer: floor\r\n")
	length := ""
	for _, h := range headers {
		if h[0] == "Content-Length" {
			length = h[1]
			continue
		}
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	if chunked {
		b.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if closeAfter {
		b.WriteString("Connection: close\r\n")
	}
	if length != "" {
		fmt.Fprintf(&b, "Content-Length: %s\r\n", length)
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func concat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

// fixed is a Content-Length answer sent with one write.
func fixed(contentType string, body []byte) answer {
	hdrs := [][2]string{{"Content-Type", contentType}, {"Content-Length", strconv.Itoa(len(body))}}
	return answer{
		keepAlive: [][]byte{concat(head(hdrs, false, false), body)},
		close:     [][]byte{concat(head(hdrs, false, true), body)},
	}
}

// chunked is apps.chunks: nChunks chunks of chunkSize bytes, one write each.
func chunked() answer {
	hdrs := [][2]string{{"Content-Type", "application/octet-stream"}}
	chunk := concat([]byte(strconv.FormatInt(chunkSize, 16)+"\r\n"), bytes.Repeat([]byte("c"), chunkSize), []byte("\r\n"))
	writes := func(closeAfter bool) [][]byte {
		w := make([][]byte, nChunks)
		for i := range w {
			w[i] = chunk
		}
		w[0] = concat(head(hdrs, true, closeAfter), chunk)
		w[nChunks-1] = concat(chunk, []byte("0\r\n\r\n"))
		return w
	}
	return answer{keepAlive: writes(false), close: writes(true)}
}

func answerFor(workload string) (answer, error) {
	switch workload {
	case "hello":
		return fixed("text/plain", []byte("Hello, World!")), nil
	case "big":
		return fixed("application/octet-stream", bytes.Repeat([]byte("x"), bigSize)), nil
	case "bigfile":
		hdrs := [][2]string{{"Content-Type", "application/octet-stream"}, {"Content-Length", strconv.Itoa(bigSize)}}
		a := answer{
			keepAlive: [][]byte{head(hdrs, false, false)},
			close:     [][]byte{head(hdrs, false, true)},
			file:      cmp.Or(os.Getenv("BENCH_BIGFILE"), "/tmp/gowsgi-bench-1MiB.bin"),
		}
		return a, ensureBigFile(a.file)
	case "chunks":
		return chunked(), nil
	case "upload":
		return answer{upload: true}, nil
	}
	return answer{}, fmt.Errorf("unknown workload %q (hello, big, bigfile, chunks or upload)", workload)
}

func main() {
	addr := flag.String("b", "127.0.0.1:8000", "listen on `HOST:PORT`")
	workload := flag.String("workload", "hello", "the canned answer: hello, big, bigfile, chunks or upload (as bench/apps.py)")
	flag.Parse()
	ans, err := answerFor(*workload)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(2)
	}
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
		go serve(c, &ans)
	}
}

var continueResponse = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// serve answers the requests of one connection until it closes.
func serve(c net.Conn, ans *answer) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 4096)
	var scratch, out []byte
	for {
		req, err := readHead(br)
		if err != nil {
			return
		}
		writes := ans.keepAlive
		if req.closeAfter {
			writes = ans.close
		}
		if ans.upload || req.length > 0 {
			if req.expect100 {
				if _, err := c.Write(continueResponse); err != nil {
					return
				}
			}
			if scratch == nil {
				scratch = make([]byte, 64<<10)
			}
			n, err := discard(br, req.length, scratch)
			if err != nil {
				return
			}
			if ans.upload {
				out = uploadAnswer(out[:0], n, req.closeAfter)
				writes = [][]byte{out}
			}
		}
		for _, w := range writes {
			if _, err := c.Write(w); err != nil {
				return
			}
		}
		if ans.file != "" && sendFile(c, ans.file) != nil {
			return
		}
		if req.closeAfter {
			return
		}
	}
}

// ensureBigFile writes apps.py's 1 MiB file of "f" unless it is there,
// as apps.py does: under a private name, then renamed, so a server
// importing apps.py at the same time never reads half of it.
func ensureBigFile(path string) error {
	if st, err := os.Stat(path); err == nil && st.Size() == bigSize {
		return nil
	}
	tmp := fmt.Sprintf("%s.%d", path, os.Getpid())
	if err := os.WriteFile(tmp, bytes.Repeat([]byte("f"), bigSize), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// sendFile sends the file with sendfile(2) (TCPConn.ReadFrom), with
// TCP_NOTSENT_LOWAT at 16 KiB as gowsgi's worker sets it for a file.
func sendFile(c net.Conn, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tc := c.(*net.TCPConn)
	if rc, err := tc.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotsentLowat, 16<<10)
		})
	}
	_, err = tc.ReadFrom(f)
	return err
}

// tcpNotsentLowat is TCP_NOTSENT_LOWAT, which package syscall lacks (the
// floor uses the standard library only).
const tcpNotsentLowat = 25

// uploadAnswer appends apps.upload's answer for a body of n bytes.
func uploadAnswer(dst []byte, n int64, closeAfter bool) []byte {
	var num [20]byte
	body := strconv.AppendInt(num[:0], n, 10)
	dst = append(dst, "HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Type: text/plain\r\n"...)
	if closeAfter {
		dst = append(dst, "Connection: close\r\n"...)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}

// discard reads and drops the n bytes of a request body, at most
// len(scratch) at a time, as apps.upload reads wsgi.input.
func discard(br *bufio.Reader, n int64, scratch []byte) (int64, error) {
	var total int64
	for total < n {
		m, err := br.Read(scratch[:min(int64(len(scratch)), n-total)])
		total += int64(m)
		if err != nil {
			if err == io.EOF && total < n {
				err = io.ErrUnexpectedEOF
			}
			return total, err
		}
	}
	return total, nil
}

// request is what readHead keeps of a request head.
type request struct {
	closeAfter bool  // "Connection: close"
	expect100  bool  // "Expect: 100-continue"
	length     int64 // Content-Length, 0 when absent
}

var (
	connectionField = []byte("connection:")
	lengthField     = []byte("content-length:")
	expectField     = []byte("expect:")
	closeToken      = []byte("close")
	continueToken   = []byte("100-continue")
	errBadLength    = errors.New("floor: bad Content-Length")
)

// readHead consumes one request head.
func readHead(br *bufio.Reader) (request, error) {
	var req request
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return req, err
		}
		if len(line) <= 2 {
			return req, nil
		}
		switch {
		case hasField(line, connectionField):
			if bytes.Contains(bytes.ToLower(line), closeToken) {
				req.closeAfter = true
			}
		case hasField(line, lengthField):
			n, err := strconv.ParseInt(string(bytes.TrimSpace(line[len(lengthField):])), 10, 64)
			if err != nil || n < 0 {
				return req, errBadLength
			}
			req.length = n
		case hasField(line, expectField):
			if bytes.Contains(bytes.ToLower(line), continueToken) {
				req.expect100 = true
			}
		}
	}
}

func hasField(line, field []byte) bool {
	return len(line) > len(field) && bytes.EqualFold(line[:len(field)], field)
}
