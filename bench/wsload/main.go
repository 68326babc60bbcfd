// Command wsload is `make bench`'s WebSocket echo client: N connections,
// each opened with one handshake (RFC 6455 §4.1), then in a loop sends a
// small masked text frame and waits for its echo, for D seconds. One round
// trip is one "request": the figure is echoed messages per second.
//
//	wsload -c 64 -d 3s ws://127.0.0.1:8000/ws
//
// wrk speaks no WebSocket, and the Python clients (python3-websockets)
// would need more CPU than the servers they measure. Standard library
// only: the few framing rules a client needs are below (RFC 6455 §5.2 for
// the header, §5.3 for the client's mask).
//
// Its output has the lines of wrk's that bench/peers.sh reads:
// "Requests/sec:", the 50% and 99% latency lines, "N requests in",
// and "Socket errors:".
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// wsGUID is the handshake's magic string (RFC 6455 §1.3).
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Opcodes (RFC 6455 §5.2).
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

var (
	errConnect   = errors.New("wsload: connect")
	errHandshake = errors.New("wsload: handshake refused")
	errEcho      = errors.New("wsload: echo differs from the message")
)

func main() {
	conns := flag.Int("c", 64, "concurrent connections, each one message in flight")
	dur := flag.Duration("d", 3*time.Second, "how long to run")
	size := flag.Int("s", 32, "message size in bytes (under 126: one-byte length)")
	timeout := flag.Duration("timeout", 10*time.Second, "bound on the handshake and on one round trip")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: wsload [-c N] [-d DURATION] [-s BYTES] ws://HOST:PORT/PATH")
		os.Exit(2)
	}
	u, err := url.Parse(flag.Arg(0))
	if err != nil || u.Scheme != "ws" {
		fmt.Fprintf(os.Stderr, "wsload: %q is not a ws URL\n", flag.Arg(0))
		os.Exit(2)
	}
	msg := bytes.Repeat([]byte("x"), *size)

	var (
		mu                 sync.Mutex
		lat                []time.Duration
		connErrs, readErrs int
		refused            int
		firstErr           error
		wg                 sync.WaitGroup
		start              = time.Now()
		deadline           = start.Add(*dur)
	)
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine, err := session(u, msg, deadline, *timeout)
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, mine...)
			switch {
			case err == nil:
				return
			case errors.Is(err, errConnect):
				connErrs++
			case errors.Is(err, errHandshake):
				refused++
			default:
				readErrs++
			}
			if firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	fmt.Printf("Running %v test @ %s (WebSocket echo, %d-byte text messages)\n", *dur, u, *size)
	fmt.Printf("  %d connections\n", *conns)
	fmt.Printf("  Latency Distribution\n")
	fmt.Printf("     50%% %.2fms\n", float64(pct(0.50))/1e6)
	fmt.Printf("     99%% %.2fms\n", float64(pct(0.99))/1e6)
	fmt.Printf("  %d requests in %.2fs\n", len(lat), elapsed.Seconds())
	if connErrs+readErrs > 0 {
		fmt.Printf("  Socket errors: connect %d, read %d, write 0, timeout 0\n", connErrs, readErrs)
	}
	if refused > 0 {
		fmt.Printf("  Non-2xx or 3xx responses: %d\n", refused)
	}
	if firstErr != nil {
		fmt.Printf("  First error: %v\n", firstErr)
	}
	fmt.Printf("Requests/sec: %.2f\n", float64(len(lat))/elapsed.Seconds())
}

// session opens one WebSocket and echoes msg until deadline; it returns
// the round-trip times and the error that ended it early, if any.
func session(u *url.URL, msg []byte, deadline time.Time, timeout time.Duration) ([]time.Duration, error) {
	c, err := net.DialTimeout("tcp", u.Host, timeout)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errConnect, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	br := bufio.NewReader(c)
	if err := handshake(c, br, u); err != nil {
		return nil, err
	}
	frame := maskedFrame(opText, msg)
	var lat []time.Duration
	for time.Now().Before(deadline) {
		t0 := time.Now()
		c.SetDeadline(t0.Add(timeout))
		if _, err := c.Write(frame); err != nil {
			return lat, err
		}
		if err := readEcho(c, br, msg); err != nil {
			return lat, err
		}
		lat = append(lat, time.Since(t0))
	}
	// A clean close (RFC 6455 §5.5.1: status 1000); the server's answer
	// is not waited for.
	c.Write(maskedFrame(opClose, []byte{0x03, 0xe8}))
	return lat, nil
}

// handshake sends the opening handshake and checks the 101 and its
// Sec-WebSocket-Accept (RFC 6455 §4.1, §4.2.2 item 5.4).
func handshake(c net.Conn, br *bufio.Reader, u *url.URL) error {
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return fmt.Errorf("%w: %w", errConnect, err)
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	want := base64.StdEncoding.EncodeToString(sum[:])
	status, accept := "", ""
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("%w: %w", errConnect, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if status == "" {
			status = line
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Sec-WebSocket-Accept") {
			accept = strings.TrimSpace(v)
		}
	}
	if !strings.HasPrefix(status, "HTTP/1.1 101") || accept != want {
		return fmt.Errorf("%w: %q, accept %q (want %q)", errHandshake, status, accept, want)
	}
	return nil
}

// maskedFrame is one final client frame: a client masks every frame it
// sends with a fresh 4-byte key (RFC 6455 §5.3), payload under 64 KiB.
func maskedFrame(op byte, payload []byte) []byte {
	f := []byte{0x80 | op}
	if n := len(payload); n < 126 {
		f = append(f, 0x80|byte(n))
	} else {
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	}
	var key [4]byte
	rand.Read(key[:])
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i%4])
	}
	return f
}

// readEcho reads frames until a text message arrives and checks it is
// msg; pings get their pong (RFC 6455 §5.5.2), a close ends the session.
// Server frames are unmasked (§5.1); no extension was offered, so RSV
// bits are zero, and an echo of a small message is not fragmented.
func readEcho(c net.Conn, br *bufio.Reader, msg []byte) error {
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return err
		}
		op, n := h[0]&0x0f, uint64(h[1]&0x7f)
		switch n {
		case 126:
			var ext [2]byte
			if _, err := io.ReadFull(br, ext[:]); err != nil {
				return err
			}
			n = uint64(binary.BigEndian.Uint16(ext[:]))
		case 127:
			var ext [8]byte
			if _, err := io.ReadFull(br, ext[:]); err != nil {
				return err
			}
			n = binary.BigEndian.Uint64(ext[:])
		}
		if h[1]&0x80 != 0 || n > 1<<20 {
			return fmt.Errorf("wsload: bad server frame header %x, length %d", h, n)
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			return err
		}
		switch op {
		case opText:
			if h[0]&0x80 == 0 || !bytes.Equal(payload, msg) {
				return fmt.Errorf("%w: %q", errEcho, payload)
			}
			return nil
		case opPing:
			if _, err := c.Write(maskedFrame(opPong, payload)); err != nil {
				return err
			}
		case opPong:
		case opClose:
			return fmt.Errorf("wsload: the server closed: %x", payload)
		default:
			return fmt.Errorf("wsload: unexpected opcode %#x", op)
		}
	}
}
