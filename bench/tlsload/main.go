// Command tlsload is `make bench`'s client for new TLS connections: every
// request is a new TCP connection and a full TLS handshake, the request
// carries "Connection: close", and the client reads the response to the
// server's close.
//
//	tlsload -c 64 -d 3s https://127.0.0.1:8443/
//
// Why not wrk or h2load: both keep the session of a closed connection and
// offer it on the next one, so with "Connection: close" they measure
// resumed handshakes (nginx's $ssl_session_reused was "r" for 4,760 of
// 4,828 of wrk's connections, and for 1,984 of 2,000 of h2load's). openssl
// s_time -new does a full handshake each time, but one at a time, and
// OpenSSL 3.0's client spent ~0.9 ms of CPU per connection, so one core
// of it could not load any server. This client never resumes: its
// tls.Config has no ClientSessionCache, so it offers no ticket (checked
// the same way, `bench/peers.sh check`). Like wrk it does not verify the
// certificate chain (InsecureSkipVerify), though the handshake signature
// is still verified, as RFC 8446 §4.4.3 requires. The key exchange is
// X25519, as wrk's (below).
//
// Its output has the lines of wrk's that bench/peers.sh reads:
// "Requests/sec:", the 50% and 99% latency lines, "N requests in",
// and "Socket errors:".
package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"
)

func main() {
	conns := flag.Int("c", 64, "concurrent clients, each one connection at a time")
	dur := flag.Duration("d", 3*time.Second, "how long to run")
	timeout := flag.Duration("timeout", 10*time.Second, "bound on one request, handshake included")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: tlsload [-c N] [-d DURATION] https://HOST:PORT/PATH")
		os.Exit(2)
	}
	u, err := url.Parse(flag.Arg(0))
	if err != nil || u.Scheme != "https" {
		fmt.Fprintf(os.Stderr, "tlsload: %q is not an https URL\n", flag.Arg(0))
		os.Exit(2)
	}
	req := []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nConnection: close\r\n\r\n")
	// X25519 as OpenSSL 3.0's clients (wrk, curl) offer it: Go's default
	// list starts with the post-quantum X25519MLKEM768, which gowsgi
	// would choose and OpenSSL 3.0 (nginx, Python) cannot, so the servers
	// would not do the same key exchange.
	cfg := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"},
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256}}

	var (
		mu       sync.Mutex
		lat      []time.Duration
		connErrs int
		readErrs int
		non2xx   int
		resumed  int
		wg       sync.WaitGroup
		start    = time.Now()
		deadline = start.Add(*dur)
	)
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var ce, re, bad, res int
			for time.Now().Before(deadline) {
				t0 := time.Now()
				status, didResume, err := one(u.Host, req, cfg, *timeout)
				switch {
				case errors.Is(err, errConnect):
					ce++
				case err != nil:
					re++
				default:
					mine = append(mine, time.Since(t0))
					if status < 200 || status > 399 {
						bad++
					}
					if didResume {
						res++
					}
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			connErrs, readErrs, non2xx, resumed = connErrs+ce, readErrs+re, non2xx+bad, resumed+res
			mu.Unlock()
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
	fmt.Printf("Running %v test @ %s (a full TLS handshake per request)\n", *dur, u)
	fmt.Printf("  %d connections\n", *conns)
	fmt.Printf("  Latency Distribution\n")
	fmt.Printf("     50%% %.2fms\n", float64(pct(0.50))/1e6)
	fmt.Printf("     99%% %.2fms\n", float64(pct(0.99))/1e6)
	fmt.Printf("  %d requests in %.2fs\n", len(lat), elapsed.Seconds())
	if connErrs+readErrs > 0 {
		fmt.Printf("  Socket errors: connect %d, read %d, write 0, timeout 0\n", connErrs, readErrs)
	}
	if non2xx > 0 {
		fmt.Printf("  Non-2xx or 3xx responses: %d\n", non2xx)
	}
	fmt.Printf("  Resumed handshakes: %d\n", resumed)
	fmt.Printf("Requests/sec: %.2f\n", float64(len(lat))/elapsed.Seconds())
}

// errConnect: the TCP connection or the handshake failed.
var errConnect = errors.New("tlsload: connect")

// one makes one request on a new connection and reads the response to
// the server's close; it returns the status code and whether the
// handshake resumed a session (never expected: nothing is cached).
func one(host string, req []byte, cfg *tls.Config, timeout time.Duration) (int, bool, error) {
	raw, err := net.DialTimeout("tcp", host, timeout)
	if err != nil {
		return 0, false, fmt.Errorf("%w: %w", errConnect, err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(timeout))
	c := tls.Client(raw, cfg)
	if err := c.Handshake(); err != nil {
		return 0, false, fmt.Errorf("%w: %w", errConnect, err)
	}
	if _, err := c.Write(req); err != nil {
		return 0, false, err
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return 0, false, err
	}
	var status int
	if _, err := fmt.Sscanf(line, "HTTP/1.%d %d", new(int), &status); err != nil {
		return 0, false, fmt.Errorf("tlsload: status line %q: %w", line, err)
	}
	// The response ends at the server's close (the request said
	// Connection: close); a close without close_notify is fine here.
	if _, err := io.Copy(io.Discard, br); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return 0, false, err
	}
	return status, c.ConnectionState().DidResume, nil
}
