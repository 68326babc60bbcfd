package integration

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Encrypted private keys (pemkey, docs/tls.md "Encrypted private keys"),
// made by the real openssl, served with the password from the
// environment, the flag and across HUP; the password never shows.

const keyPassword = "s3cret-Pa55word"

// opensslTo runs openssl with args, failing the test on error.
func opensslTo(t *testing.T, args ...string) {
	t.Helper()
	if _, errOut, err := runClient(t, "", "openssl", args...); err != nil {
		t.Fatalf("openssl %s: %v: %s", strings.Join(args, " "), err, errOut)
	}
}

func noPassword(t *testing.T, s *server) {
	t.Helper()
	if strings.Contains(s.output(), keyPassword) {
		t.Errorf("the log shows the key's password:\n%s", s.output())
	}
}

func TestTLSEncryptedKey(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "root")

	t.Run("PKCS#8 aes256, password from the environment, and HUP", func(t *testing.T) {
		a := ca.serverCert(t, dir, "pkcs8", ecdsaP256)
		enc := filepath.Join(dir, "pkcs8-enc.key")
		opensslTo(t, "pkcs8", "-topk8", "-in", a.keyFile, "-out", enc, "-v2", "aes256", "-passout", "pass:"+keyPassword)
		s := start(t, serverOpts{args: []string{"tlsapp:app", "--certfile", a.certFile, "--keyfile", enc},
			env: []string{"GOWSGI_SSL_KEYFILE_PASSWORD=" + keyPassword}})
		if got := servedSerial(t, s, ca); got != a.cert.SerialNumber.String() {
			t.Fatalf("served serial %s; want %s", got, a.cert.SerialNumber)
		}
		// The app's process does not inherit the variable.
		c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: ca.clientConfig()}}
		resp, err := c.Get("https://" + s.address() + "/osenv?GOWSGI_SSL_KEYFILE_PASSWORD")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "None" {
			t.Errorf("the worker's os.environ has GOWSGI_SSL_KEYFILE_PASSWORD = %s; want it absent", body)
		}

		// A renewal encrypted with another password: the reload is
		// refused, naming the file, and the current key keeps serving.
		b := ca.serverCert(t, dir, "pkcs8-b", ecdsaP256)
		opensslTo(t, "pkcs8", "-topk8", "-in", b.keyFile, "-out", enc, "-v2", "aes256", "-passout", "pass:other")
		if err := os.Rename(b.certFile, a.certFile); err != nil {
			t.Fatal(err)
		}
		s.signal(syscall.SIGHUP)
		const refused = "reload: the configuration has an error; keeping the current one and its workers"
		s.waitFor(func() bool { return len(s.find(refused)) >= 1 })
		if got, want := s.find(refused)[0].str("error"), "--keyfile "+enc+": cannot decrypt the private key: wrong --ssl-keyfile-password"; got != want {
			t.Errorf("reload error %q; want %q", got, want)
		}
		if got := servedSerial(t, s, ca); got != a.cert.SerialNumber.String() {
			t.Errorf("after a refused HUP, served serial %s; want %s still", got, a.cert.SerialNumber)
		}
		noPassword(t, s)
	})

	t.Run("legacy RSA Proc-Type key in the certificate file, password from the flag", func(t *testing.T) {
		a := ca.serverCert(t, dir, "legacy", rsa2048)
		enc := filepath.Join(dir, "legacy-enc.key")
		opensslTo(t, "rsa", "-in", a.keyFile, "-out", enc, "-aes128", "-traditional", "-passout", "pass:"+keyPassword)
		head, err := os.ReadFile(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(head), "Proc-Type: 4,ENCRYPTED") {
			t.Fatalf("openssl wrote no legacy encrypted key:\n%s", head)
		}
		cert, err := os.ReadFile(a.certFile)
		if err != nil {
			t.Fatal(err)
		}
		both := filepath.Join(dir, "legacy-both.pem")
		writeFile(t, both, append(cert, head...))
		s := start(t, serverOpts{args: []string{"tlsapp:app", "--certfile", both, "--ssl-keyfile-password", keyPassword}})
		if got := servedSerial(t, s, ca); got != a.cert.SerialNumber.String() {
			t.Fatalf("served serial %s; want %s", got, a.cert.SerialNumber)
		}
		noPassword(t, s)
	})

	t.Run("--print-config does not print it", func(t *testing.T) {
		out, _, err := runBinary(t, "tlsapp:app", "--print-config", "--certfile", "c.pem", "--ssl-keyfile-password", keyPassword)
		if err != nil {
			t.Fatalf("--print-config: %v\n%s", err, out)
		}
		if strings.Contains(out, keyPassword) || !strings.Contains(out, "# ssl_keyfile_password is set (not shown)\n") {
			t.Errorf("--print-config printed:\n%s", out)
		}
	})
}
