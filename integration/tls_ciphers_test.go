package integration

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestTLSCiphersAsOpenSSLReadsThem: the ciphers values Gunicorn and
// Uvicorn users run with are OpenSSL cipher strings. For each, a TLS 1.2
// client (curl, on OpenSSL) offering one ECDSA suite at a time is served
// exactly when `openssl ciphers` lists that suite for the string, as a
// Python server calling set_ciphers would; the names Go lacks are
// named in a notice at start.
func TestTLSCiphersAsOpenSSLReadsThem(t *testing.T) {
	const mozillaIntermediate = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" +
		"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" +
		"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
	ecdsaSuites := []string{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
		"ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA"}
	dir := t.TempDir()
	ca := newCA(t, "root")
	cert := ca.serverCert(t, dir, "server", ecdsaP256)
	caFile := ca.write(t, dir, "ca.pem")
	for _, tt := range []struct {
		name, flag, ciphers, notice string
	}{
		{"Mozilla's intermediate list", "--ciphers", mozillaIntermediate,
			"DHE-RSA-AES128-GCM-SHA256, DHE-RSA-AES256-GCM-SHA384, DHE-RSA-CHACHA20-POLY1305: no TLS 1.2 suite that Go implements"},
		{"Uvicorn's default", "--ssl-ciphers", "TLSv1", ""},
		{"keywords", "--ciphers", "ECDH+AESGCM:ECDH+CHACHA20:DH+AESGCM:!aNULL:!MD5:!DSS", "--ciphers: DH+AESGCM: no TLS 1.2 suite"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command("openssl", "ciphers", "-s", tt.ciphers).Output()
			if err != nil {
				t.Fatalf("openssl ciphers %q: %v", tt.ciphers, err)
			}
			offered := strings.Split(strings.TrimSpace(string(out)), ":")
			s := start(t, serverOpts{args: []string{"tlsapp:app", "--certfile", cert.certFile, "--keyfile", cert.keyFile,
				tt.flag, tt.ciphers}})
			if tt.notice != "" && !strings.Contains(s.output(), tt.notice) {
				t.Errorf("no notice saying %q at start:\n%s", tt.notice, s.output())
			}
			served := 0
			for _, suite := range ecdsaSuites {
				want := slices.Contains(offered, suite)
				_, errOut, err := runClient(t, "", "curl", "-sS", "--max-time", "20", "--cacert", caFile,
					"--tls-max", "1.2", "--ciphers", suite, "https://localhost:"+port(s)+"/env")
				if (err == nil) != want {
					t.Errorf("a TLS 1.2 client offering only %s: served %v, want %v (OpenSSL lists %q): %s",
						suite, err == nil, want, offered, errOut)
				}
				if err == nil {
					served++
				}
			}
			if served == 0 {
				t.Errorf("no suite served for %q", tt.ciphers)
			}
		})
	}
}
