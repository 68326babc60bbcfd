package pemkey

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const password = "correct horse battery staple"

// openssl runs the real openssl (Makefile DEB_PACKAGES) in dir.
func openssl(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// plainKeys are an EC P-256 and an RSA 2048 key made once by openssl,
// unencrypted, in PKCS#8 ("PRIVATE KEY"): what every encrypted variant
// must decrypt back to.
var plainKeys = struct {
	once sync.Once
	dir  string
}{}

func plainKey(t *testing.T, alg string) string {
	t.Helper()
	plainKeys.once.Do(func() {
		dir, err := os.MkdirTemp("", "pemkey-")
		if err != nil {
			t.Fatal(err)
		}
		plainKeys.dir = dir
		openssl(t, dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.pem")
		openssl(t, dir, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem")
	})
	return filepath.Join(plainKeys.dir, alg+".pem")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if plainKeys.dir != "" {
		os.RemoveAll(plainKeys.dir)
	}
	os.Exit(code)
}

// parseKey returns the private key of the first key block of a file.
func parseKey(t *testing.T, b *pem.Block) crypto.Signer {
	t.Helper()
	var k any
	var err error
	switch b.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	if err != nil {
		t.Fatalf("%s block: %v", b.Type, err)
	}
	return k.(crypto.Signer)
}

func readBlock(t *testing.T, path string) *pem.Block {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	return b
}

// sameKey fails unless a and b hold the same private key.
func sameKey(t *testing.T, got, want crypto.Signer) {
	t.Helper()
	if !got.(interface{ Equal(crypto.PrivateKey) bool }).Equal(want) {
		t.Fatal("the decrypted key is not the key openssl encrypted")
	}
}

// The encrypted variants, each made by openssl from the plain key "in"
// into "out" at test time.
var variants = []struct {
	name     string
	alg      string // ec or rsa
	args     []string
	wantType string // the decrypted block's PEM type
}{
	{name: "genpkey-style PKCS#8 aes256 (PBKDF2-HMAC-SHA256)", alg: "ec", wantType: "PRIVATE KEY",
		args: []string{"pkcs8", "-topk8", "-in", "in", "-out", "out", "-v2", "aes256", "-passout", "pass:" + password}},
	{name: "PKCS#8 aes128 with hmacWithSHA1", alg: "ec", wantType: "PRIVATE KEY",
		args: []string{"pkcs8", "-topk8", "-in", "in", "-out", "out", "-v2", "aes128", "-v2prf", "hmacWithSHA1", "-passout", "pass:" + password}},
	{name: "PKCS#8 aes192 with hmacWithSHA512 and 20000 iterations", alg: "ec", wantType: "PRIVATE KEY",
		args: []string{"pkcs8", "-topk8", "-in", "in", "-out", "out", "-v2", "aes192", "-v2prf", "hmacWithSHA512", "-iter", "20000", "-passout", "pass:" + password}},
	{name: "PKCS#8 des3", alg: "ec", wantType: "PRIVATE KEY",
		args: []string{"pkcs8", "-topk8", "-in", "in", "-out", "out", "-v2", "des3", "-passout", "pass:" + password}},
	{name: "RSA PKCS#8 aes256", alg: "rsa", wantType: "PRIVATE KEY",
		args: []string{"pkcs8", "-topk8", "-in", "in", "-out", "out", "-v2", "aes256", "-passout", "pass:" + password}},
	{name: "genpkey -aes256 (a new key)", alg: "", wantType: "PRIVATE KEY",
		args: []string{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes256", "-pass", "pass:" + password, "-out", "out"}},
	{name: "legacy RSA Proc-Type aes256", alg: "rsa", wantType: "RSA PRIVATE KEY",
		args: []string{"rsa", "-in", "in", "-out", "out", "-aes256", "-traditional", "-passout", "pass:" + password}},
	{name: "legacy EC Proc-Type aes128", alg: "ec", wantType: "EC PRIVATE KEY",
		args: []string{"ec", "-in", "in", "-out", "out", "-aes128", "-passout", "pass:" + password}},
}

func TestDecryptOpenSSLKeys(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			dir := t.TempDir()
			if v.alg != "" {
				data, err := os.ReadFile(plainKey(t, v.alg))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "in"), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			openssl(t, dir, v.args...)
			enc := readBlock(t, filepath.Join(dir, "out"))
			if !Encrypted(enc) {
				t.Fatalf("openssl's %s block is not seen as encrypted (headers %v)", enc.Type, enc.Headers)
			}
			// What the key should be: openssl's own decryption.
			openssl(t, dir, "pkey", "-in", "out", "-passin", "pass:"+password, "-out", "want")
			want := parseKey(t, readBlock(t, filepath.Join(dir, "want")))

			got, err := Decrypt(enc, []byte(password))
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if got.Type != v.wantType || len(got.Headers) != 0 {
				t.Errorf("decrypted block %q with headers %v; want %q without", got.Type, got.Headers, v.wantType)
			}
			sameKey(t, parseKey(t, got), want)

			if _, err := Decrypt(enc, []byte(password+"!")); !errors.Is(err, ErrIncorrectPassword) {
				t.Errorf("wrong password: err = %v; want ErrIncorrectPassword", err)
			}
			if _, err := Decrypt(enc, nil); !errors.Is(err, ErrNoPassword) {
				t.Errorf("no password: err = %v; want ErrNoPassword", err)
			}
		})
	}
}

func TestDecryptRefusesOtherSchemes(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error
	}{
		{"scrypt", []string{"-scrypt"}, "scrypt"},
		{"PKCS#5 v1.5 / PKCS#12 PBE", []string{"-v1", "PBE-SHA1-3DES"}, "not PBES2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			data, err := os.ReadFile(plainKey(t, "ec"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "in"), data, 0o600); err != nil {
				t.Fatal(err)
			}
			openssl(t, dir, append([]string{"pkcs8", "-topk8", "-in", "in", "-out", "out", "-passout", "pass:" + password}, tc.args...)...)
			_, err = Decrypt(readBlock(t, filepath.Join(dir, "out")), []byte(password))
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want ErrUnsupported saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), password) {
				t.Fatalf("the error %q shows the password", err)
			}
		})
	}
}

// TestFixtures decrypts the committed seed files (testdata/README.md),
// so the fuzz seeds are known-good inputs.
func TestFixtures(t *testing.T) {
	want := parseKey(t, readBlock(t, "testdata/ec-plain.pem"))
	for name, wantErr := range map[string]error{
		"ec-aes256-sha256.pem": nil, "ec-aes128-sha1.pem": nil, "ec-des3-sha512-iter1.pem": nil,
		"ec-legacy-aes192.pem": nil, "ec-scrypt.pem": ErrUnsupported, "ec-pbes1.pem": ErrUnsupported,
	} {
		got, err := Decrypt(readBlock(t, filepath.Join("testdata", name)), []byte("gowsgi-fixture"))
		if !errors.Is(err, wantErr) {
			t.Errorf("%s: err = %v; want %v", name, err, wantErr)
			continue
		}
		if err == nil {
			sameKey(t, parseKey(t, got), want)
		}
	}
}

// TestDecryptAll: a certificate file holding an encrypted key (what
// --certfile alone reads) keeps its other blocks, in order.
func TestDecryptAll(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(plainKey(t, "ec"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "in"), data, 0o600)
	openssl(t, dir, "req", "-x509", "-key", "in", "-subj", "/CN=pemkey", "-days", "1", "-out", "cert.pem")
	openssl(t, dir, "pkcs8", "-topk8", "-in", "in", "-out", "enc.pem", "-v2", "aes256", "-passout", "pass:"+password)
	cert, _ := os.ReadFile(filepath.Join(dir, "cert.pem"))
	enc, _ := os.ReadFile(filepath.Join(dir, "enc.pem"))
	combined := append(append([]byte(nil), cert...), enc...)

	out, encrypted, err := DecryptAll(combined, []byte(password))
	if err != nil || !encrypted {
		t.Fatalf("DecryptAll = %v, %v", encrypted, err)
	}
	first, rest := pem.Decode(out)
	second, _ := pem.Decode(rest)
	if first == nil || first.Type != "CERTIFICATE" || second == nil || second.Type != "PRIVATE KEY" {
		t.Fatalf("DecryptAll gave %q", out)
	}
	sameKey(t, parseKey(t, second), parseKey(t, &pem.Block{Type: "PRIVATE KEY", Bytes: mustDecode(t, data)}))

	if same, encrypted, err := DecryptAll(cert, nil); err != nil || encrypted || string(same) != string(cert) {
		t.Errorf("an unencrypted file: DecryptAll = %q, %v, %v; want it unchanged", same, encrypted, err)
	}
	if _, _, err := DecryptAll(combined, []byte("nope")); !errors.Is(err, ErrIncorrectPassword) {
		t.Errorf("wrong password: err = %v", err)
	}
}

func mustDecode(t *testing.T, data []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatal("no PEM block")
	}
	return b.Bytes
}
