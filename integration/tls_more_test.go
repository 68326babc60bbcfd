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
