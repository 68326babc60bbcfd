package integration

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestNginxProxyPass runs examples/nginx/gowsgi-http.conf in real nginx
// in front of gowsgi, over TCP and over a unix socket.
func TestNginxProxyPass(t *testing.T) {
	for _, transport := range []string{"tcp", "unix"} {
		t.Run(transport, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "gowsgi.sock")
			s := start(t, serverOpts{args: []string{"-b", "unix:" + sock, "--workers", "2", "deploy:app"}, ready: 2})
			upstream := s.addr
			if transport == "unix" {
				upstream = "unix:" + sock
			}
			n := startNginxHTTP(t, upstream)
			t.Run("get", func(t *testing.T) { checkProxiedGet(t, n, transport) })
			t.Run("https scheme from X-Forwarded-Proto", func(t *testing.T) {
				env := getEnviron(t, n.tlsClient, n.tlsURL("/environ"), nil)
				if env["wsgi.url_scheme"] != "https" || env["HTTP_X_FORWARDED_PROTO"] != "https" {
					t.Fatalf("wsgi.url_scheme %q, X-Forwarded-Proto %q; want https from a trusted nginx",
						env["wsgi.url_scheme"], env["HTTP_X_FORWARDED_PROTO"])
				}
			})
			t.Run("upload 10 MiB", func(t *testing.T) { checkUpload(t, n.url("/upload"), 10<<20) })
			t.Run("streaming response", func(t *testing.T) { checkStreaming(t, n.url(streamPath)) })
			t.Run("keep-alive upstream", func(t *testing.T) { checkUpstreamKeepAlive(t, n, transport, sock) })
		})
	}
}

func checkProxiedGet(t *testing.T, n *nginxHTTP, transport string) {
	env := getEnviron(t, http.DefaultClient, n.url("/environ?q=a%20b"), http.Header{"X-Forwarded-For": {"203.0.113.7"}})
	want := map[string]string{
		"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/environ", "QUERY_STRING": "q=a%20b",
		"RAW_URI": "/environ?q=a%20b", "SERVER_PROTOCOL": "HTTP/1.1",
		"HTTP_HOST":              "127.0.0.1:" + strconv.Itoa(n.port),
		"HTTP_X_FORWARDED_FOR":   "203.0.113.7, 127.0.0.1",
		"HTTP_X_FORWARDED_PROTO": "http", "wsgi.url_scheme": "http",
		"SERVER_NAME": "127.0.0.1", "SERVER_PORT": strconv.Itoa(n.port),
	}
	if transport == "unix" {
		want["REMOTE_ADDR"] = "" // a unix-socket peer has no address (Gunicorn)
	} else {
		want["REMOTE_ADDR"] = "127.0.0.1"
	}
	checkEnviron(t, env, want)
}

// TestNginxForwardedFromUntrustedPeer: with nginx's address outside
// --forwarded-allow-ips, its X-Forwarded-Proto reaches the app as a
// header but does not make the request https.
func TestNginxForwardedFromUntrustedPeer(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--forwarded-allow-ips", "192.0.2.1", "deploy:app"}})
	n := startNginxHTTP(t, s.addr)
	env := getEnviron(t, n.tlsClient, n.tlsURL("/environ"), nil)
	if env["HTTP_X_FORWARDED_PROTO"] != "https" || env["wsgi.url_scheme"] != "http" {
		t.Fatalf("X-Forwarded-Proto %q, wsgi.url_scheme %q; want the header passed and the scheme left http",
			env["HTTP_X_FORWARDED_PROTO"], env["wsgi.url_scheme"])
	}
}

// TestNginxMountedUnderPrefix: location /app/ passes the path as it is
// and gowsgi, started with SCRIPT_NAME=/app, splits it.
func TestNginxMountedUnderPrefix(t *testing.T) {
	s := start(t, serverOpts{args: []string{"deploy:app"}, env: []string{"SCRIPT_NAME=/app"}})
	n := startNginxHTTP(t, s.addr)
	env := getEnviron(t, http.DefaultClient, n.url("/app/environ?x=1"), nil)
	checkEnviron(t, env, map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/environ", "QUERY_STRING": "x=1",
		"RAW_URI": "/app/environ?x=1"})
}

// TestNginxScriptNameHeader: location /shop/ names the mount point in a
// SCRIPT_NAME header, as Gunicorn's FAQ does; gowsgi takes it from a
// trusted proxy only.
func TestNginxScriptNameHeader(t *testing.T) {
	s := start(t, serverOpts{args: []string{"deploy:app"}})
	n := startNginxHTTP(t, s.addr)
	env := getEnviron(t, http.DefaultClient, n.url("/shop/environ?x=1"), nil)
	checkEnviron(t, env, map[string]string{"SCRIPT_NAME": "/shop", "PATH_INFO": "/environ", "HTTP_SCRIPT_NAME": "/shop"})

	// A client's own SCRIPT_NAME header (nginx drops it, having
	// underscores_in_headers off) is dropped by gowsgi too.
	untrusted := start(t, serverOpts{args: []string{"--forwarded-allow-ips", "192.0.2.1", "deploy:app"}})
	env = getEnviron(t, http.DefaultClient, untrusted.url("/environ"), http.Header{"SCRIPT_NAME": {"/environ"}})
	checkEnviron(t, env, map[string]string{"SCRIPT_NAME": "", "PATH_INFO": "/environ"})
	if _, ok := env["HTTP_SCRIPT_NAME"]; ok {
		t.Errorf("HTTP_SCRIPT_NAME from an untrusted peer: %q", env["HTTP_SCRIPT_NAME"])
	}
}

// nginxHTTP is nginx running the HTTP example, with a client for its
// TLS port.
type nginxHTTP struct {
	*nginxServer
	tlsClient *http.Client
}

func (n *nginxHTTP) tlsURL(path string) string {
	return "https://127.0.0.1:" + strconv.Itoa(n.tlsPort) + path
}

// startNginxHTTP runs examples/nginx/gowsgi-http.conf with upstream as
// its server and a certificate made for the test.
func startNginxHTTP(t *testing.T, upstream string) *nginxHTTP {
	t.Helper()
	certFile, keyFile, pool := selfSignedCert(t)
	site := renderExample(t, "examples/nginx/gowsgi-http.conf", map[string]string{
		"server 127.0.0.1:8000":       "server " + upstream,
		"/etc/ssl/certs/gowsgi.pem":   certFile,
		"/etc/ssl/private/gowsgi.key": keyFile,
	})
	return &nginxHTTP{
		nginxServer: startNginx(t, site),
		tlsClient: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true,
		}},
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key.
func selfSignedCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "gowsgi test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return certFile, keyFile, pool
}

// getEnviron fetches the deploy app's /environ view.
func getEnviron(t *testing.T, c *http.Client, url string, h http.Header) map[string]string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %q", url, resp.StatusCode, body)
	}
	return decodeEnviron(t, body)
}

func decodeEnviron(t *testing.T, body []byte) map[string]string {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("not the environ view: %q", body)
	}
	env := map[string]string{}
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			env[k] = v
		case float64:
			env[k] = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return env
}

func checkEnviron(t *testing.T, env, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got, ok := env[k]; !ok || got != v {
			t.Errorf("%s = %q (present %v); want %q", k, got, ok, v)
		}
	}
}

// checkUpload posts size random bytes and compares the app's digest.
func checkUpload(t *testing.T, url string, size int) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	sum := sha256.Sum256(data)
	resp, err := http.Post(url, "application/octet-stream", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var got struct {
		Length int    `json:"length"`
		SHA256 string `json:"sha256"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil {
		t.Fatalf("POST %d bytes: %d %q", size, resp.StatusCode, body)
	}
	if got.Length != size || got.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("the app read %d bytes with SHA-256 %s; sent %d with %x", got.Length, got.SHA256, size, sum)
	}
}

// streamPath asks the deploy app for three short lines 0.4 s apart: each
// must reach the client through the front end as the app yields it
// (PEP 3333 "Buffering and Streaming"), not when the app returns.
const streamPath = "/stream?n=3&gap=0.4"

// checkStreaming reads a /stream response line by line and checks that
// the first line arrived before the app produced the last one: the
// response was passed on as it was made, not buffered whole.
func checkStreaming(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	var firstArrived time.Time
	var lastProduced float64
	lines := 0
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			if lines == 0 {
				firstArrived = time.Now()
			}
			i, at, ok := parseStreamLine(line)
			if !ok || i != lines {
				t.Fatalf("line %d is %q", lines, line)
			}
			lastProduced = at
			lines++
		}
		if err != nil {
			break
		}
	}
	if lines != 3 {
		t.Fatalf("got %d lines; want 3", lines)
	}
	produced := time.Unix(0, int64(lastProduced*1e9))
	if !firstArrived.Before(produced) {
		t.Fatalf("the first chunk arrived %v after the last was produced: the response was buffered",
			firstArrived.Sub(produced))
	}
}

// checkUpstreamKeepAlive makes sequential requests through nginx and
// checks they reached gowsgi over one reused connection. Over TCP the
// app sees nginx's source port, which must not change. A unix-socket
// peer has no port, so there the test counts the connected sockets on
// gowsgi's path in /proc/net/unix: one, request after request.
func checkUpstreamKeepAlive(t *testing.T, n *nginxHTTP, transport, sock string) {
	t.Helper()
	ports := map[string]bool{}
	for i := range 5 {
		env := getEnviron(t, http.DefaultClient, n.url("/environ"), nil)
		ports[env["REMOTE_PORT"]] = true
		if transport == "unix" {
			if conns := connectedUnixSockets(t, sock); conns != 1 {
				t.Fatalf("after request %d, %d connections to gowsgi's socket; want 1 kept alive", i+1, conns)
			}
		}
	}
	if transport == "tcp" && len(ports) != 1 {
		t.Fatalf("5 requests came from nginx ports %v; want one reused connection", ports)
	}
}

// connectedUnixSockets counts the accepted connections on the unix
// socket at path: in /proc/net/unix they carry the listener's path, in
// state 03 (SS_CONNECTED).
func connectedUnixSockets(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		// Num RefCount Protocol Flags Type St Inode Path
		if len(f) == 8 && f[7] == path && f[5] == "03" {
			n++
		}
	}
	return n
}

// parseStreamLine reads a /stream line: "chunk I SECONDS".
func parseStreamLine(line string) (i int, at float64, ok bool) {
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "chunk" {
		return 0, 0, false
	}
	i, err1 := strconv.Atoi(f[1])
	at, err2 := strconv.ParseFloat(f[2], 64)
	return i, at, err1 == nil && err2 == nil
}
