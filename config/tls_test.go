package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNormalizeSSLVersion(t *testing.T) {
	for in, want := range map[string]string{
		"TLS_SERVER": SSLVersionTLS12, "PROTOCOL_TLS": SSLVersionTLS12, "SSLv23": SSLVersionTLS12, "17": SSLVersionTLS12,
		"TLSv1_2": SSLVersionTLS12, "5": SSLVersionTLS12, "tlsv1_3": SSLVersionTLS13, "1.3": SSLVersionTLS13,
		"TLSv1": "TLSv1", "TLSv1_1": "TLSv1_1", "3": "TLSv1", "PROTOCOL_TLSv1_1": "TLSv1_1",
		"SSLv3": "SSLv3", "SSLv2": "SSLv2", "0": "SSLv2", "TLSv9": "error: unknown ssl version",
	} {
		got, err := normalizeSSLVersion(in)
		switch {
		case strings.HasPrefix(want, "error: "):
			if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(want, "error: ")) {
				t.Errorf("normalizeSSLVersion(%q) = %v, %v; want an error saying %q", in, got, err, want)
			}
		case err != nil || got != want:
			t.Errorf("normalizeSSLVersion(%q) = %v, %v; want %q", in, got, err, want)
		}
	}
}

func TestNormalizeCiphers(t *testing.T) {
	for in, want := range map[string]string{
		"": "",
		" ECDHE-RSA-AES128-GCM-SHA256:TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 ": "ECDHE-RSA-AES128-GCM-SHA256:TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
		"HIGH:!aNULL":               "HIGH:!aNULL",
		"DHE-RSA-AES128-GCM-SHA256": `error: "DHE-RSA-AES128-GCM-SHA256" selects no TLS 1.2 suite that Go implements`,
		"TLS_AES_128_GCM_SHA256":    `error: "TLS_AES_128_GCM_SHA256" selects no TLS 1.2 suite that Go implements`, // TLS 1.3: always Go's three
		"HIGH:@FOO":                 `error: "@FOO": not OpenSSL cipher-string syntax`,
	} {
		got, err := normalizeCiphers(in)
		switch {
		case strings.HasPrefix(want, "error: "):
			if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(want, "error: ")) {
				t.Errorf("normalizeCiphers(%q) = %v, %v; want an error saying %q", in, got, err, want)
			}
		case err != nil || got != want:
			t.Errorf("normalizeCiphers(%q) = %v, %v; want %q", in, got, err, want)
		}
	}
}

// writeTestCert writes a self-signed ECDSA certificate and its key.
func writeTestCert(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}

func TestLoadTLSMaterial(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeTestCert(t, dir, "a")
	_, otherKey := writeTestCert(t, dir, "b")
	both := filepath.Join(dir, "both.pem")
	c, _ := os.ReadFile(cert)
	k, _ := os.ReadFile(key)
	os.WriteFile(both, append(c, k...), 0o600)
	legacy := filepath.Join(dir, "legacy.key")
	os.WriteFile(legacy, []byte("-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n-----END EC PRIVATE KEY-----\n"), 0o600)

	tests := []struct {
		name string
		cfg  Config
		want string // "" = loads
	}{
		{name: "cert and key", cfg: Config{CertFile: cert, KeyFile: key}},
		{name: "key in the certfile", cfg: Config{CertFile: both}},
		{name: "no key in the certfile", cfg: Config{CertFile: cert}, want: "--keyfile " + cert + ": no PEM private key"},
		{name: "mismatched key", cfg: Config{CertFile: cert, KeyFile: otherKey},
			want: "--keyfile " + otherKey + ": does not go with --certfile " + cert},
		{name: "legacy encrypted key", cfg: Config{CertFile: cert, KeyFile: legacy}, want: "the private key is encrypted"},
		{name: "missing CA file", cfg: Config{CertFile: cert, KeyFile: key, CACerts: dir + "/nope.pem"},
			want: "--ca-certs " + dir + "/nope.pem: no such file or directory"},
		{name: "CA file without certificates", cfg: Config{CertFile: cert, KeyFile: key, CACerts: key},
			want: "--ca-certs " + key + ": no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := LoadTLSMaterial(&tt.cfg)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("LoadTLSMaterial = %v; want an error saying %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.cfg.SSLVersion, tt.cfg.CertReqs = SSLVersionTLS13, 0
			tc, err := m.ServerConfig(&tt.cfg)
			if err != nil || tc.MinVersion != tls.VersionTLS13 || len(tc.NextProtos) != 1 || tc.NextProtos[0] != "http/1.1" {
				t.Fatalf("ServerConfig = %+v, %v", tc, err)
			}
		})
	}
}

func TestCheckTLS(t *testing.T) {
	base := Config{Bind: []string{"0.0.0.0:443", "127.0.0.1:8080"}, SSLVersion: SSLVersionTLS12, Protocol: ProtocolHTTP}
	tests := []struct {
		name   string
		edit   func(*Config)
		want   string // "" = accepted
		notice string // "" = none
	}{
		{"TLS off", func(c *Config) {}, "", ""},
		{"TLS settings without TLS", func(c *Config) {
			c.CACerts, c.CertReqs, c.Ciphers, c.SSLVersion = "ca.pem", 2, "HIGH", "TLSv1"
		}, "", "--ca-certs is ignored: TLS is on only with --certfile"},
		{"an old TLS version", func(c *Config) { c.CertFile, c.SSLVersion = "c.pem", "TLSv1_1" }, "",
			"--ssl-version TLSv1_1: served as TLSv1_2, TLS 1.2 or newer"},
		{"plain bind among the binds", func(c *Config) { c.CertFile, c.PlainBind = "c.pem", []string{"127.0.0.1:8080"} }, "", ""},
		{"plain bind not bound", func(c *Config) { c.CertFile, c.PlainBind = "c.pem", []string{"127.0.0.1:9"} },
			"--plain-bind 127.0.0.1:9 is not one of the --bind addresses", ""},
		{"plain bind without TLS", func(c *Config) { c.PlainBind = []string{"127.0.0.1:8080"} }, "--plain-bind needs --certfile", ""},
		{"key without certificate", func(c *Config) { c.KeyFile = "k.pem" }, "--keyfile needs --certfile", ""},
		{"required client certificates without CAs", func(c *Config) { c.CertFile, c.CertReqs = "c.pem", 2 },
			"--cert-reqs 1 or 2 needs --ca-certs", ""},
		{"uwsgi", func(c *Config) { c.CertFile, c.Protocol = "c.pem", ProtocolUwsgi }, "does not apply to --protocol uwsgi", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.edit(&c)
			err := checkTLS(&c)
			if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("checkTLS = %v; want %q", err, tt.want)
			}
			if notices := strings.Join(c.Notices, "\n"); (tt.notice == "") != (notices == "") || !strings.Contains(notices, tt.notice) {
				t.Errorf("notices %q; want one saying %q", notices, tt.notice)
			}
		})
	}
}
