package engine

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// SSL_CLIENT_S_DN is what nginx's $ssl_client_s_dn says of the same
// certificate: OpenSSL's RFC 2253 form, read here from openssl itself.
func TestDistinguishedNameIsOpenSSLs(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k.pem")
	if out, err := exec.Command("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
		"-out", key).CombinedOutput(); err != nil {
		t.Fatalf("openssl (make test installs it): %v %s", err, out)
	}
	for _, subj := range []string{
		"/CN=client/O=Example",
		"/C=US/O=Acme, Inc./CN=Bob Smith/emailAddress=bob@example.com",
		"/DC=com/DC=example/UID=jdoe/CN=John Doe",
		"/O=A+B; <C>/OU=x=y/CN=#hash \"quoted\\\\\"",
		"/CN=Müller/L=Zürich/C=CH",
		"/CN=multi+OU=valued/O=Org",
		"/1.2.3.4=unknown/CN=x/serialNumber=42/GN=Ann/SN=Lee/title=Dr/street=Main St 1/postalCode=8000",
	} {
		cert := filepath.Join(dir, "c.pem")
		out, err := exec.Command("openssl", "req", "-new", "-x509", "-utf8", "-key", key, "-subj", subj,
			"-days", "1", "-out", cert).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: openssl req: %v %s", subj, err, out)
		}
		out, err = exec.Command("openssl", "x509", "-in", cert, "-noout", "-subject", "-nameopt", "RFC2253").Output()
		if err != nil {
			t.Fatalf("%s: openssl x509: %v", subj, err)
		}
		want := strings.TrimPrefix(strings.TrimSpace(string(out)), "subject=")
		data, _ := os.ReadFile(cert)
		block, _ := pem.Decode(data)
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if got := distinguishedName(c.RawSubject, c.Subject); got != want {
			t.Errorf("%s:\n got %q\nwant %q (openssl -nameopt RFC2253)", subj, got, want)
		}
	}
}
