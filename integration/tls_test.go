package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TLS served by gowsgi itself (worker/tls.go), checked with real
// clients: curl, Python's ssl and http.client, openssl s_client, and Go's
// crypto/tls where a client must do what the others refuse to.

// runClient runs a client command with stdin, bounded in time, and returns its
// stdout and stderr; err is its exit status.
func runClient(t *testing.T, stdin string, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func port(s *server) string {
	_, p, _ := net.SplitHostPort(s.address())
	return p
}

// tlsEnv fetches /env with curl and decodes the app's view.
func tlsEnv(t *testing.T, s *server, curlArgs ...string) map[string]any {
	t.Helper()
	args := append([]string{"-sS", "--max-time", "20"}, curlArgs...)
	out, errOut, err := runClient(t, "", "curl", append(args, "https://localhost:"+port(s)+"/env")...)
	if err != nil {
		t.Fatalf("curl: %v: %s", err, errOut)
	}
	var env map[string]any
	if err := json.Unmarshal([]byte(out), &env); err != nil {
		t.Fatalf("/env answered %q: %v", out, err)
	}
	return env
}

func wantEnv(t *testing.T, env map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if env[k] != v {
			t.Errorf("environ %s = %v; want %v (environ %v)", k, env[k], v, env)
		}
	}
}

func TestTLSServesHTTPS(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "root")
	inter := ca.intermediate(t, "intermediate")
	cert := inter.serverCert(t, dir, "server", ecdsaP256, inter) // leaf, then the intermediate
	caFile := ca.write(t, dir, "ca.pem")
	s := start(t, serverOpts{args: []string{"tlsapp:app", "--certfile", cert.certFile, "--keyfile", cert.keyFile}})

	// A flood of stalled handshakes: a first byte and nothing more. They
	// wait on their own goroutines and the clients below are served.
	for range 50 {
		c, err := net.Dial("tcp", s.address())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte{0x16})
	}

	t.Run("curl", func(t *testing.T) {
		env := tlsEnv(t, s, "--cacert", caFile)
		wantEnv(t, env, map[string]any{"wsgi.url_scheme": "https", "HTTPS": "on", "SSL_PROTOCOL": "TLSv1.3",
			"SSL_CLIENT_VERIFY": "NONE", "SERVER_PORT": port(s), "SSL_CLIENT_S_DN": nil})
		env = tlsEnv(t, s, "--cacert", caFile, "--tls-max", "1.2")
		wantEnv(t, env, map[string]any{"SSL_PROTOCOL": "TLSv1.2"})
		_, verbose, err := runClient(t, "", "curl", "-sSv", "--max-time", "20", "--cacert", caFile, "https://localhost:"+port(s)+"/")
		if err != nil || !strings.Contains(verbose, "ALPN: server accepted http/1.1") {
			t.Errorf("curl -v: %v; want ALPN http/1.1 accepted:\n%s", err, verbose)
		}
	})

	t.Run("python http.client keep-alive, big bodies and file_wrapper", func(t *testing.T) {
		file := filepath.Join(dir, "payload.bin")
		payload := make([]byte, 3<<20+12345)
		rand.Read(payload)
		writeFile(t, file, payload)
		sum := sha256.Sum256(payload)
		script := `
import hashlib, http.client, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
ctx.set_alpn_protocols(["h2", "http/1.1"])
c = http.client.HTTPSConnection("localhost", int(sys.argv[2]), context=ctx, timeout=20)
for i in range(3):
    c.request("GET", "/file?" + sys.argv[3]); r = c.getresponse(); b = r.read()
    print("file", r.status, len(b), hashlib.sha256(b).hexdigest())
    c.request("GET", "/big?2000003"); r = c.getresponse(); b = r.read()
    print("big", r.status, len(b), b == bytes(i % 251 for i in range(2000003)))
    body = bytes(range(256)) * 4096
    c.request("POST", "/echo", body=body); r = c.getresponse(); b = r.read()
    print("echo", r.status, b == body)
print("sock", c.sock.version(), c.sock.selected_alpn_protocol())
`
		out, errOut, err := runClient(t, "", "python3", "-c", script, caFile, port(s), file)
		if err != nil {
			t.Fatalf("python: %v: %s", err, errOut)
		}
		wantFile := fmt.Sprintf("file 200 %d %s", len(payload), hex.EncodeToString(sum[:]))
		for want, times := range map[string]int{wantFile: 3, "big 200 2000003 True": 3, "echo 200 True": 3, "sock TLSv1.3 http/1.1": 1} {
			if strings.Count(out, want) != times {
				t.Errorf("python client: want %q %d times in:\n%s", want, times, out)
			}
		}
	})

	t.Run("plain HTTP to the TLS port", func(t *testing.T) {
		c, err := net.Dial("tcp", s.address())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
		b, err := io.ReadAll(c) // to the close
		if err != nil {
			t.Fatalf("reading the answer: %v (got %q)", err, b)
		}
		if !bytes.HasPrefix(b, []byte("HTTP/1.1 400 Bad Request\r\n")) ||
			!bytes.Contains(b, []byte("Connection: close\r\n")) ||
			!bytes.Contains(b, []byte("The plain HTTP request was sent to HTTPS port.")) {
			t.Errorf("plain HTTP got %q; want a plain 400 and a close", b)
		}
	})

	t.Run("TLS 1.1 refused", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca.pem)
		_, err := tls.DialWithDialer(&net.Dialer{Timeout: 20 * time.Second}, "tcp", s.address(),
			&tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
		if err == nil || !strings.Contains(err.Error(), "protocol version") {
			t.Errorf("a TLS 1.1 client: %v; want a protocol version alert", err)
		}
	})
}

func TestTLSClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "root")
	cert := ca.serverCert(t, dir, "server", rsa2048)
	caFile := ca.write(t, dir, "ca.pem")
	clients := newCA(t, "clients")
	clientsFile := clients.write(t, dir, "clients.pem")
	alice := clients.clientCert(t, dir, "alice", "alice", "Example")
	mallory := newCA(t, "elsewhere").clientCert(t, dir, "mallory", "mallory", "Evil")

	s := start(t, serverOpts{args: []string{"tlsapp:app", "--certfile", cert.certFile, "--keyfile", cert.keyFile,
		"--ca-certs", clientsFile, "--cert-reqs", "2"}})

	env := tlsEnv(t, s, "--cacert", caFile, "--cert", alice.certFile, "--key", alice.keyFile)
	wantEnv(t, env, map[string]any{"SSL_CLIENT_VERIFY": "SUCCESS", "SSL_CLIENT_S_DN": "CN=alice,O=Example",
		"SSL_CLIENT_I_DN": "CN=clients,O=gowsgi tests", "SSL_CLIENT_SERIAL": fmt.Sprintf("%X", alice.cert.SerialNumber)})

	request := "GET /env HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
	sClient := func(l *leaf) (string, error) {
		args := []string{"s_client", "-connect", s.address(), "-servername", "localhost", "-CAfile", caFile, "-ign_eof"}
		if l != nil {
			args = append(args, "-cert", l.certFile, "-key", l.keyFile)
		}
		out, errOut, err := runClient(t, request, "openssl", args...)
		return out + errOut, err
	}
	out, err := sClient(alice)
	if err != nil || !strings.Contains(out, "HTTP/1.1 200 OK") || !strings.Contains(out, `"SSL_CLIENT_S_DN": "CN=alice,O=Example"`) {
		t.Errorf("openssl s_client with alice's certificate: %v:\n%s", err, out)
	}
	for name, l := range map[string]*leaf{"a certificate from another CA": mallory, "no certificate": nil} {
		if out, _ := sClient(l); strings.Contains(out, "HTTP/1.1 200") || !strings.Contains(out, "alert") {
			t.Errorf("openssl s_client with %s was served, or got no alert:\n%s", name, out)
		}
	}
	if _, errOut, err := runClient(t, "", "curl", "-sS", "--max-time", "20", "--cacert", caFile, "https://localhost:"+port(s)+"/env"); err == nil {
		t.Errorf("curl without a client certificate was served (%s)", errOut)
	}

	// --cert-reqs 1: a certificate is verified when given, not required.
	s1 := start(t, serverOpts{args: []string{"tlsapp:app", "--certfile", cert.certFile, "--keyfile", cert.keyFile,
		"--ca-certs", clientsFile, "--cert-reqs", "1"}})
	wantEnv(t, tlsEnv(t, s1, "--cacert", caFile), map[string]any{"SSL_CLIENT_VERIFY": "NONE"})
	wantEnv(t, tlsEnv(t, s1, "--cacert", caFile, "--cert", alice.certFile, "--key", alice.keyFile),
		map[string]any{"SSL_CLIENT_VERIFY": "SUCCESS", "SSL_CLIENT_S_DN": "CN=alice,O=Example"})
}

// resume connects with openssl s_client, reusing the session in sessIn
// (if any) and saving the new one in sessOut, and asks /pid. It returns
// the pid of the worker that answered and whether the session was reused.
func resume(t *testing.T, s *server, caFile, sessIn, sessOut string) (pid string, reused bool) {
	t.Helper()
	args := []string{"s_client", "-connect", s.address(), "-servername", "localhost", "-CAfile", caFile, "-ign_eof",
		"-sess_out", sessOut}
	if sessIn != "" {
		args = append(args, "-sess_in", sessIn)
	}
	out, errOut, err := runClient(t, "GET /pid HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", "openssl", args...)
	if err != nil || !strings.Contains(out, "HTTP/1.1 200 OK") {
		t.Fatalf("openssl s_client: %v:\n%s%s", err, out, errOut)
	}
	body := out[strings.LastIndex(out, "\r\n\r\n")+4:] // the pid, then s_client's "---"
	end := strings.IndexFunc(body, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(body)
	}
	return body[:end], strings.Contains(out, "Reused, TLSv1.3")
}

func TestTLSResumptionAcrossWorkers(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "root")
	cert := ca.serverCert(t, dir, "server", ecdsaP256)
	caFile := ca.write(t, dir, "ca.pem")
	s := start(t, serverOpts{args: []string{"tlsapp:app", "--certfile", cert.certFile, "--keyfile", cert.keyFile}})
	sess := filepath.Join(dir, "session.pem")

	pid1, reused := resume(t, s, caFile, "", sess)
	if reused {
		t.Fatal("the first connection reused a session")
	}
	// The worker that issued the ticket dies; its replacement, a worker
	// that never saw the session, resumes it.
	var p int
	fmt.Sscan(pid1, &p)
	if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.waitFor(func() bool { return len(s.find("worker ready")) >= 2 })
	pid2, reused := resume(t, s, caFile, sess, filepath.Join(dir, "session2.pem"))
	if pid2 == pid1 || !reused {
		t.Fatalf("after worker %s died, worker %s answered; reused %v; want another worker and the session resumed", pid1, pid2, reused)
	}

	// HUP starts a generation with a new ticket secret: old tickets give
	// a full handshake (docs/tls.md, "Resumption").
	s.signal(syscall.SIGHUP)
	// Once the old worker is gone: until it has seen its TERM it may
	// still accept.
	s.waitFor(func() bool { return len(s.find("worker exited")) >= 2 })
	if _, reused := resume(t, s, caFile, sess, filepath.Join(dir, "session3.pem")); reused {
		t.Error("a ticket of the previous generation resumed after HUP")
	}
}

// servedSerial returns the serial number of the certificate a new
// connection to s gets.
func servedSerial(t *testing.T, s *server, ca *issuer) string {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.pem)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 20 * time.Second}, "tcp", s.address(),
		&tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func TestTLSReloadCertificateOnHUP(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "root")
	a := ca.serverCert(t, dir, "server", ecdsaP256)
	s := start(t, serverOpts{args: []string{"tlsapp:app", "--certfile", a.certFile, "--keyfile", a.keyFile}})
	if got := servedSerial(t, s, ca); got != a.cert.SerialNumber.String() {
		t.Fatalf("served serial %s; want %s", got, a.cert.SerialNumber)
	}

	// certbot renews: new files at the same paths, then HUP.
	b := ca.serverCert(t, dir, "server", rsa2048)
	s.signal(syscall.SIGHUP)
	// Once the old worker is gone: until it has seen its TERM it may
	// still accept.
	s.waitFor(func() bool { return len(s.find("worker exited")) >= 1 })
	if got := servedSerial(t, s, ca); got != b.cert.SerialNumber.String() {
		t.Fatalf("after HUP, served serial %s; want the new certificate's %s", got, b.cert.SerialNumber)
	}

	// A broken renewal: the old certificate keeps serving, and the log
	// says which file is wrong.
	writeFile(t, b.keyFile, []byte("not a key\n"))
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool {
		return len(s.find("reload: the configuration has an error; keeping the current one and its workers")) >= 1
	})
	l := s.find("reload: the configuration has an error; keeping the current one and its workers")[0]
	if want := "--keyfile " + b.keyFile + ": no PEM private key"; !strings.Contains(l.str("error"), want) {
		t.Errorf("reload error %q; want it to say %q", l.str("error"), want)
	}
	if got := servedSerial(t, s, ca); got != b.cert.SerialNumber.String() {
		t.Errorf("after a bad HUP, served serial %s; want %s still", got, b.cert.SerialNumber)
	}
}

func TestTLSBadFilesAtStart(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "root")
	good := ca.serverCert(t, dir, "good", ecdsaP256)
	other := ca.serverCert(t, dir, "other", ecdsaP256)
	garbage := filepath.Join(dir, "garbage.pem")
	writeFile(t, garbage, []byte("hello\n"))
	encrypted := filepath.Join(dir, "encrypted.key")
	if _, errOut, err := runClient(t, "", "openssl", "pkcs8", "-topk8", "-in", good.keyFile, "-out", encrypted,
		"-v2", "aes-256-cbc", "-passout", "pass:secret"); err != nil {
		t.Fatalf("openssl pkcs8: %v: %s", err, errOut)
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name, cert, key, want string
		password              string // --ssl-keyfile-password
	}{
		{name: "missing certificate", cert: missing, key: good.keyFile, want: "--certfile " + missing + ": no such file or directory"},
		{name: "not PEM", cert: garbage, key: good.keyFile, want: "--certfile " + garbage + ": no PEM certificate (BEGIN CERTIFICATE) in it"},
		{name: "key of another certificate", cert: good.certFile, key: other.keyFile,
			want: "--keyfile " + other.keyFile + ": does not go with --certfile " + good.certFile + ": tls: private key does not match public key"},
		{name: "encrypted key, no password", cert: good.certFile, key: encrypted,
			want: "--keyfile " + encrypted + ": the private key is encrypted and no password was given: set --ssl-keyfile-password"},
		{name: "encrypted key, wrong password", cert: good.certFile, key: encrypted, password: "not-the-secret",
			want: "--keyfile " + encrypted + ": cannot decrypt the private key: wrong --ssl-keyfile-password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"tlsapp:app", "--certfile", tt.cert, "--keyfile", tt.key}
			if tt.password != "" {
				args = append(args, "--ssl-keyfile-password", tt.password)
			}
			s := start(t, serverOpts{args: args, ready: -1})
			if code := s.wait(20 * time.Second); code != 1 {
				t.Errorf("exit code %d; want 1", code)
			}
			var errs []string
			s.mu.Lock()
			for _, l := range s.lines {
				if l.str("level") == "error" {
					errs = append(errs, l.str("message")+": "+l.str("error"))
				}
			}
			s.mu.Unlock()
			if len(errs) != 1 || !strings.Contains(errs[0], "cannot serve TLS: "+tt.want) {
				t.Errorf("error lines %q; want one saying %q", errs, tt.want)
			}
			if tt.password != "" && strings.Contains(s.output(), tt.password) {
				t.Errorf("the output shows the password:\n%s", s.output())
			}
		})
	}
}

// TestTLSSettingsRefused: settings that cannot work are refused before
// anything starts, in one line (exit 2, as every configuration error).
func TestTLSSettingsRefused(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--keyfile", "k.pem"}, "--keyfile needs --certfile"},
		{[]string{"--certfile", "c.pem", "--cert-reqs", "2"}, "--cert-reqs 1 or 2 needs --ca-certs"},
		{[]string{"--certfile", "c.pem", "--ciphers", "HIGH:@FOO"}, `--ciphers: "@FOO": not OpenSSL cipher-string syntax`},
		{[]string{"--certfile", "c.pem", "--ciphers", "DHE-RSA-AES128-GCM-SHA256"},
			`--ciphers: "DHE-RSA-AES128-GCM-SHA256" selects no TLS 1.2 suite that Go implements`},
	} {
		out, _, err := runBinary(t, append([]string{"tlsapp:app"}, tt.args...)...)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || strings.Count(out, "\n") != 1 || !strings.Contains(out, tt.want) {
			t.Errorf("gowsgi %q: %v, output %q; want exit 2 and one line saying %q", tt.args, err, out, tt.want)
		}
	}
}

// runBinary runs bin/gowsgi to completion, output and errors together.
func runBinary(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = appsDir
	cmd.Env = os.Environ()
	b, err := cmd.CombinedOutput()
	return string(b), "", err
}
