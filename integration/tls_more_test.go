package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTLSBehindNginx: nginx proxy_pass https:// to gowsgi, verifying
// gowsgi's certificate (proxy_ssl_verify on) and presenting its own
// client certificate, which gowsgi requires (--cert-reqs 2).
func TestTLSBehindNginx(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "root")
	cert := ca.serverCert(t, dir, "server", ecdsaP256)
	caFile := ca.write(t, dir, "ca.pem")
	clients := newCA(t, "clients")
	clientsFile := clients.write(t, dir, "clients.pem")
	proxy := clients.clientCert(t, dir, "nginx", "nginx", "Front")
	s := start(t, serverOpts{args: []string{"tlsapp:app", "--certfile", cert.certFile, "--keyfile", cert.keyFile,
		"--ca-certs", clientsFile, "--cert-reqs", "2"}})

	site := func(trusted string) string {
		return fmt.Sprintf(`server {
    listen 80;
    location / {
        proxy_pass https://%s;
        proxy_ssl_verify on;
        proxy_ssl_trusted_certificate %s;
        proxy_ssl_name localhost;
        proxy_ssl_server_name on;
        proxy_ssl_certificate %s;
        proxy_ssl_certificate_key %s;
        proxy_ssl_session_reuse on;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }
}
`, s.address(), trusted, proxy.certFile, proxy.keyFile)
	}
	get := func(port int) (int, string) {
		c := &http.Client{Timeout: 20 * time.Second}
		resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/env", port))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	n := startNginx(t, site(caFile))
	for range 3 { // keep-alive upstream connections and resumed sessions alike
		code, body := get(n.port)
		var env map[string]any
		if code != 200 || json.Unmarshal([]byte(body), &env) != nil {
			t.Fatalf("through nginx: %d %q", code, body)
		}
		wantEnv(t, env, map[string]any{"wsgi.url_scheme": "https", "SSL_CLIENT_VERIFY": "SUCCESS",
			"SSL_CLIENT_S_DN": "CN=nginx,O=Front"})
	}

	// nginx trusting another CA refuses gowsgi's certificate: 502.
	other := newCA(t, "other").write(t, dir, "other.pem")
	n2 := startNginx(t, site(other))
	if code, body := get(n2.port); code != http.StatusBadGateway {
		t.Errorf("nginx with the wrong CA answered %d %q; want 502", code, body)
	}
	if !strings.Contains(n2.logs(), "upstream SSL certificate verify error") {
		t.Errorf("nginx's error log does not say it refused the certificate:\n%s", n2.logs())
	}
}

// TestTLSPlainBind: --plain-bind leaves one listener plain HTTP while the
// others serve TLS.
func TestTLSPlainBind(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "root")
	cert := ca.serverCert(t, dir, "server", ecdsaP256)
	caFile := ca.write(t, dir, "ca.pem")
	sock := "unix:" + filepath.Join(dir, "plain.sock")
	s := start(t, serverOpts{args: []string{"tlsapp:app", "--certfile", cert.certFile, "--keyfile", cert.keyFile,
		"-b", sock, "--plain-bind", sock}})
	wantEnv(t, tlsEnv(t, s, "--cacert", caFile), map[string]any{"wsgi.url_scheme": "https", "HTTPS": "on"})
	out, errOut, err := runClient(t, "", "curl", "-sS", "--max-time", "20", "--unix-socket", strings.TrimPrefix(sock, "unix:"), "http://localhost/env")
	var env map[string]any
	if err != nil || json.Unmarshal([]byte(out), &env) != nil {
		t.Fatalf("plain HTTP on the --plain-bind socket: %v %q %s", err, out, errOut)
	}
	wantEnv(t, env, map[string]any{"wsgi.url_scheme": "http", "HTTPS": nil, "SSL_PROTOCOL": nil})
}

// TestTLSAccessLog: the TLS version and cipher in the access log, with
// Gunicorn's environ atoms.
func TestTLSAccessLog(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "root")
	cert := ca.serverCert(t, dir, "server", ecdsaP256)
	caFile := ca.write(t, dir, "ca.pem")
	s := start(t, serverOpts{args: []string{"tlsapp:app", "--certfile", cert.certFile, "--keyfile", cert.keyFile,
		"--access-logfile", "-", "--access-logformat", `tls %({SSL_PROTOCOL}e)s %({SSL_CIPHER}e)s "%(r)s" %(s)s`}})
	tlsEnv(t, s, "--cacert", caFile, "--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384")
	want := `tls TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 "GET /env HTTP/1.1" 200`
	s.waitFor(func() bool { return strings.Contains(s.output(), want) })
}

// TestTLSFullWorkerEvicts: a worker whose places are all taken by
// connections that never start their handshake, or stall in it, still
// serves a real client: they are evicted as silent connections and
// stalled heads are (worker/room.go).
func TestTLSFullWorkerEvicts(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "root")
	cert := ca.serverCert(t, dir, "server", ecdsaP256)
	caFile := ca.write(t, dir, "ca.pem")
	s := start(t, serverOpts{args: []string{"tlsapp:app", "--certfile", cert.certFile, "--keyfile", cert.keyFile,
		"--worker-connections", "8"}})
	for i := range 8 {
		c, err := net.Dial("tcp", s.address())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if i%2 == 0 {
			c.Write([]byte{0x16, 0x03, 0x01}) // a handshake that stalls
		}
	}
	// The stalled handshakes become evictable after a second; the client
	// waits that long at most, through curl's own timeout.
	wantEnv(t, tlsEnv(t, s, "--cacert", caFile), map[string]any{"wsgi.url_scheme": "https"})
}

// TestTLSFirstResponseWithoutDelayedAck: a TLS 1.3 client that leaves
// Nagle's algorithm on (a raw Python ssl socket) gets its first response
// without waiting for a delayed ACK. Go sends its session tickets before
// the client's Finished, so nothing carried that Finished's ACK, and the
// client held its request back until the kernel's 40 ms delayed ACK: 42
// ms before every connection's first response. The fastest of five new
// connections must beat that by far; a stall would make all five slow.
func TestTLSFirstResponseWithoutDelayedAck(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "root")
	cert := ca.serverCert(t, dir, "server", ecdsaP256)
	caFile := ca.write(t, dir, "ca.pem")
	s := start(t, serverOpts{args: []string{"tlsapp:app", "--certfile", cert.certFile, "--keyfile", cert.keyFile}})
	script := `
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[1])
best = None
for i in range(5):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[2]))), server_hostname="localhost")
    t = time.monotonic()
    s.sendall(b"GET /env HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert s.recv(100).startswith(b"HTTP/1.1 200 ")
    ms = (time.monotonic() - t) * 1000
    best = ms if best is None else min(best, ms)
    version = s.version()
    s.close()
print("%s %.1f" % (version, best))
`
	out, errOut, err := runClient(t, "", "python3", "-c", script, caFile, port(s))
	var version string
	var best float64
	if _, serr := fmt.Sscanf(out, "%s %f", &version, &best); err != nil || serr != nil {
		t.Fatalf("python: %v %v: %q %s", err, serr, out, errOut)
	}
	if version != "TLSv1.3" || best >= 25 {
		t.Errorf("%s: the fastest first response took %.1f ms; want well under a delayed ACK's 40", version, best)
	}
}
