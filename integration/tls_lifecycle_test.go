package integration

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TLS listeners through a USR2 upgrade and connections through a HUP
// certificate reload (docs/tls.md, "Renewing the certificate").

func (ca *issuer) clientConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.pem)
	return &tls.Config{RootCAs: pool}
}

// tlsServerFlags issues a server certificate (localhost, 127.0.0.1)
// under a new root CA: the flags that serve it, and the CA a client
// trusts (clientConfig).
func tlsServerFlags(t *testing.T) ([]string, *issuer) {
	t.Helper()
	ca := newCA(t, "root")
	cert := ca.serverCert(t, t.TempDir(), "server", ecdsaP256)
	return []string{"--certfile", cert.certFile, "--keyfile", cert.keyFile}, ca
}

// TestTLSUSR2Upgrade is TestLifecycleUSR2UpgradeUnderLoad over HTTPS:
// the TLS listeners pass to the new master, which reads the certificate
// files itself and serves the same certificate, and no request of a
// client load (keep-alive and a new connection per request) fails or is
// refused while the old master hands over and stops.
func TestTLSUSR2Upgrade(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "root")
	cert := ca.serverCert(t, dir, "server", ecdsaP256)
	exe := filepath.Join(dir, "gowsgi")
	pidfile := filepath.Join(dir, "gowsgi.pid")
	copyBinary(t, exe)
	s := start(t, serverOpts{binary: exe, ready: 2, args: []string{"-w", "2", "-p", pidfile,
		"--certfile", cert.certFile, "--keyfile", cert.keyFile, "lifecycle:app"}})
	oldMaster := s.cmd.Process.Pid
	l := startLoadTLS(t, "https://"+s.address()+"/?ms=5", 6, ca.clientConfig())
	l.waitOK(40)

	s.signal(syscall.SIGUSR2)
	s.waitFor(func() bool { return len(s.logged("upgrade: the new master serves")) == 1 })
	newMaster := readPidfile(pidfile + ".2")
	if newMaster == 0 || newMaster == oldMaster {
		t.Fatalf("new master pid %d (old %d)", newMaster, oldMaster)
	}
	l.waitOK(40)
	s.signal(syscall.SIGWINCH) // the old workers go; the new master serves alone
	s.waitFor(func() bool {
		n := 0
		for _, line := range s.find("worker exited") {
			if line.num("pid") == oldMaster {
				n++
			}
		}
		return n == 2
	})
	l.waitOK(40)
	s.signal(syscall.SIGTERM)
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("old master exit code %d; want 0", code)
	}
	l.waitOK(40)
	l.requireNoFailures(false)

	// The new master's workers answer over TLS with the same certificate.
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: ca.clientConfig()}}
	resp, err := c.Get("https://" + s.address() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	worker, _ := strconv.Atoi(string(body))
	if resp.StatusCode != 200 || parentOf(worker) != newMaster {
		t.Fatalf("after the upgrade %d %q is served by a child of %d; want the new master %d",
			resp.StatusCode, body, parentOf(worker), newMaster)
	}
	if got := resp.TLS.PeerCertificates[0].SerialNumber; got.Cmp(cert.cert.SerialNumber) != 0 {
		t.Errorf("the new master serves certificate %s; want %s", got, cert.cert.SerialNumber)
	}
	syscall.Kill(newMaster, syscall.SIGTERM)
	eventually(t, "the new master to exit and remove the pidfile", func() bool {
		_, err := os.Stat(pidfile)
		return os.IsNotExist(err)
	})
}

// tlsKeepAlive is one client TLS connection that sends requests one
// after the other.
type tlsKeepAlive struct {
	*tls.Conn
	br *bufio.Reader
}

func dialTLS(t *testing.T, addr string, tc *tls.Config) *tlsKeepAlive {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 20 * time.Second}, "tcp", addr, tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return &tlsKeepAlive{Conn: c, br: bufio.NewReader(c)}
}

// get sends GET path and reads its response.
func (k *tlsKeepAlive) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(k, "GET "+path+" HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return k.read(t, path)
}

func (k *tlsKeepAlive) read(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %q %v", path, resp.StatusCode, body, err)
	}
	return resp, string(body)
}

// TestTLSConnectionsAcrossHUP: a certificate renewed with HUP. A
// keep-alive connection made before it is served to the end by its old
// worker: a request in progress during the reload, and the next request
// on an idle connection, both get their answer, with the old
// certificate. New connections get the new certificate.
func TestTLSConnectionsAcrossHUP(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "root")
	a := ca.serverCert(t, dir, "server", ecdsaP256)
	// One worker, so both connections are on the worker that retires.
	s := start(t, serverOpts{args: []string{"-w", "1", "--keep-alive", "30",
		"--certfile", a.certFile, "--keyfile", a.keyFile, "lifecycle:app"}})
	oldWorker := s.workerPIDs()[0]

	idle := dialTLS(t, s.address(), ca.clientConfig())
	if _, body := idle.get(t, "/"); body != strconv.Itoa(oldWorker) {
		t.Fatalf("served by %s; want worker %d", body, oldWorker)
	}
	busy := dialTLS(t, s.address(), ca.clientConfig())
	busy.get(t, "/")
	// The request in progress across the reload; the app sleeps in it.
	mark := filepath.Join(dir, "in-app")
	if _, err := io.WriteString(busy, "GET /?ms=1500&mark="+mark+" HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the slow request to reach the app", func() bool {
		_, err := os.Stat(mark)
		return err == nil
	})

	b := ca.serverCert(t, dir, "server", rsa2048) // renewed in place
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool { return len(s.find("worker ready")) >= 2 })

	if _, body := busy.read(t, "the request in progress"); body != strconv.Itoa(oldWorker) {
		t.Errorf("the request in progress was answered by %s; want the old worker %d", body, oldWorker)
	}
	resp, body := idle.get(t, "/")
	if body != strconv.Itoa(oldWorker) {
		t.Errorf("the idle connection's next request was answered by %s; want the old worker %d", body, oldWorker)
	}
	if !resp.Close {
		t.Errorf("the retiring worker kept the connection open (Connection: %q); want close", resp.Header.Get("Connection"))
	}
	for _, k := range []*tlsKeepAlive{idle, busy} {
		if got := k.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(a.cert.SerialNumber) != 0 {
			t.Errorf("an old connection has certificate %s; want the old %s", got, a.cert.SerialNumber)
		}
	}
	idle.Close()
	busy.Close()

	s.waitFor(func() bool { return len(s.find("worker exited")) >= 1 })
	if got := servedSerial(t, s, ca); got != b.cert.SerialNumber.String() {
		t.Errorf("a new connection after HUP gets certificate %s; want the new %s", got, b.cert.SerialNumber)
	}
}
