package integration

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Test certificates, made afresh in t.TempDir() by each test: no private
// key is committed.

// keyAlg is the algorithm of a generated key.
type keyAlg int

const (
	ecdsaP256 keyAlg = iota
	rsa2048
)

// issuer is a CA that signs certificates.
type issuer struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte // the CA certificate
}

var serialSeq int64 = 0x1000

func nextSerial() *big.Int {
	serialSeq++
	return big.NewInt(serialSeq)
}

func newKey(t *testing.T, alg keyAlg) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	switch alg {
	case rsa2048:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newCA makes a self-signed root CA.
func newCA(t *testing.T, cn string) *issuer {
	t.Helper()
	key := newKey(t, ecdsaP256)
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: cn, Organization: []string{"gowsgi tests"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	return sign(t, tmpl, key, nil)
}

// sign signs tmpl for key with parent (nil: self-signed).
func sign(t *testing.T, tmpl *x509.Certificate, key crypto.Signer, parent *issuer) *issuer {
	t.Helper()
	p, pk := tmpl, key
	if parent != nil {
		p, pk = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p, key.Public(), pk)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &issuer{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// intermediate makes a CA signed by ca.
func (ca *issuer) intermediate(t *testing.T, cn string) *issuer {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: cn, Organization: []string{"gowsgi tests"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	return sign(t, tmpl, newKey(t, ecdsaP256), ca)
}

// leaf is an end-entity certificate and its key, written as PEM files.
type leaf struct {
	*issuer
	certFile, keyFile string
}

// serverCert issues a certificate for localhost and 127.0.0.1 and writes
// it, followed by chain, and its key into dir.
func (ca *issuer) serverCert(t *testing.T, dir, name string, alg keyAlg, chain ...*issuer) *leaf {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	return writeLeaf(t, dir, name, sign(t, tmpl, newKey(t, alg), ca), chain)
}

// clientCert issues a client certificate with subject CN=cn, O=org.
func (ca *issuer) clientCert(t *testing.T, dir, name, cn, org string) *leaf {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: cn, Organization: []string{org}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return writeLeaf(t, dir, name, sign(t, tmpl, newKey(t, ecdsaP256), ca), nil)
}

func writeLeaf(t *testing.T, dir, name string, c *issuer, chain []*issuer) *leaf {
	t.Helper()
	certPEM := append([]byte(nil), c.pem...)
	for _, ca := range chain {
		certPEM = append(certPEM, ca.pem...)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	l := &leaf{issuer: c, certFile: filepath.Join(dir, name+".crt"), keyFile: filepath.Join(dir, name+".key")}
	writeFile(t, l.certFile, certPEM)
	writeFile(t, l.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	return l
}

// writeCA writes the CA certificate into dir and returns its path.
func (ca *issuer) write(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	writeFile(t, p, ca.pem)
	return p
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
