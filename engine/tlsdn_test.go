package engine

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
		checkDNAgainstOpenSSL(t, subj, cert)
	}

	// String types openssl req does not write (NumericString, BMPString)
	// and attributes beyond the common ones, in a certificate made here.
	// (Go's x509 refuses a UniversalString: such a certificate never
	// gets past the handshake.)
	rdn := func(oid asn1.ObjectIdentifier, tag int, value []byte) []dnAttr {
		return []dnAttr{{Type: oid, Value: asn1.RawValue{Class: asn1.ClassUniversal, Tag: tag, Bytes: value}}}
	}
	subject, err := asn1.Marshal([]dnAttrSET{
		rdn(asn1.ObjectIdentifier{2, 5, 4, 3}, asn1.TagNumericString, []byte("999")),
		rdn(asn1.ObjectIdentifier{2, 5, 4, 13}, asn1.TagUTF8String, []byte("a description")),
		rdn(asn1.ObjectIdentifier{2, 5, 4, 41}, asn1.TagUTF8String, []byte("n\u00e4me")),
		rdn(asn1.ObjectIdentifier{2, 5, 4, 20}, asn1.TagPrintableString, []byte("+41 44 000 00 00")),
		rdn(asn1.ObjectIdentifier{2, 5, 4, 72}, asn1.TagBMPString, []byte{0, 'r', 0, 0xf6, 0, 'l'}),
		rdn(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 2}, asn1.TagIA5String, []byte("host.example")),
		rdn(asn1.ObjectIdentifier{1, 2, 643, 3, 131, 1, 1}, asn1.TagNumericString, []byte("7700000000")),
	})
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), RawSubject: subject, NotBefore: time.Now(),
		NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(dir, "made.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	checkDNAgainstOpenSSL(t, "made here", cert)
}

// checkDNAgainstOpenSSL compares distinguishedName of the certificate in
// file with what openssl says of its subject.
func checkDNAgainstOpenSSL(t *testing.T, what, file string) {
	t.Helper()
	out, err := exec.Command("openssl", "x509", "-in", file, "-noout", "-subject", "-nameopt", "RFC2253").CombinedOutput()
	if err != nil {
		t.Fatalf("%s: openssl x509: %v %s", what, err, out)
	}
	want := strings.TrimPrefix(strings.TrimSpace(string(out)), "subject=")
	data, _ := os.ReadFile(file)
	block, _ := pem.Decode(data)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if got := distinguishedName(c.RawSubject, c.Subject); got != want {
		t.Errorf("%s:\n got %q\nwant %q (openssl -nameopt RFC2253)", what, got, want)
	}
}
