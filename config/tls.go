package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/gowsgi/gowsgi/pemkey"
)

// Values of Config.SSLVersion (--ssl-version): the oldest TLS version a
// client may use. An older one asked for is kept by its name and served
// as TLS 1.2 (checkTLS says so): RFC 8996 deprecates them, and Gunicorn
// 21 and later ignore ssl_version altogether.
const (
	SSLVersionTLS12 = "TLSv1_2"
	SSLVersionTLS13 = "TLSv1_3"
)

// normalizeSSLVersion maps Gunicorn's --ssl-version values, the names
// (with or without PROTOCOL_) and numbers of Python's ssl._SSLMethod, to
// the minimum version gowsgi serves, or the name of an older one:
//
//	"TLS_SERVER", "TLS", "SSLv23", "2", "17", "TLSv1_2", "5", "1.2" → "TLSv1_2"
//	"TLSv1_3", "1.3" → "TLSv1_3"
//	"TLSv1", "3", "1.0" → "TLSv1";  "TLSv1_1", "4", "1.1" → "TLSv1_1";  "SSLv3", "1" → "SSLv3";  "SSLv2", "0" → "SSLv2"
//
// Gunicorn 20's TLSv1_2 pins exactly TLS 1.2 (Python's PROTOCOL_TLSv1_2);
// here it is a minimum, so clients that can use TLS 1.3 do.
func normalizeSSLVersion(v any) (any, error) {
	s := strings.TrimPrefix(strings.TrimSpace(v.(string)), "PROTOCOL_")
	switch strings.ToUpper(s) {
	case "TLS_SERVER", "TLS", "SSLV23", "2", "17", "TLSV1_2", "5", "1.2":
		return SSLVersionTLS12, nil
	case "TLSV1_3", "1.3":
		return SSLVersionTLS13, nil
	case "TLSV1", "TLSV1_0", "1.0", "3":
		return "TLSv1", nil
	case "TLSV1_1", "1.1", "4":
		return "TLSv1_1", nil
	case "SSLV2", "0":
		return "SSLv2", nil
	case "SSLV3", "1":
		return "SSLv3", nil
	}
	return nil, fmt.Errorf("unknown ssl version %q: use TLSv1_2 (the default, meaning TLS 1.2 or newer) or TLSv1_3", v)
}

// noGoSuite says an item selects none of the TLS 1.2 suites Go
// implements, and which those are.
const noGoSuite = "no TLS 1.2 suite that Go implements (the ECDHE ones with AES-GCM, ChaCha20-Poly1305 " +
	"and AES-CBC-SHA; docs/tls.md lists them)"

// normalizeCiphers accepts an OpenSSL cipher string (ciphers.go) that
// selects at least one TLS 1.2 suite Go implements, and keeps it as
// written: "" keeps Go's defaults.
//
//	"ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256" → itself
//	"HIGH:!aNULL" → itself
//	"DHE-RSA-AES128-GCM-SHA256" → error: selects nothing Go has
//	"HIGH:@FOO" → error: not OpenSSL's syntax
func normalizeCiphers(v any) (any, error) {
	s := strings.TrimSpace(v.(string))
	if s == "" {
		return "", nil
	}
	sel, err := selectCiphers(s)
	if err != nil {
		return nil, err
	}
	if len(sel.ids) == 0 {
		return nil, fmt.Errorf("%q selects %s", s, noGoSuite)
	}
	return s, nil
}

// cipherNotice says which items of c.Ciphers add nothing, "" if none.
func cipherNotice(c *Config) string {
	sel, err := selectCiphers(c.Ciphers)
	if err != nil || len(sel.unmatched) == 0 {
		return ""
	}
	return fmt.Sprintf("--ciphers: %s: %s; ignored, as OpenSSL ignores the suites it lacks",
		strings.Join(sel.unmatched, ", "), noGoSuite)
}

// checkTLS checks the TLS settings against each other; the files are
// read by LoadTLSMaterial (the master's job).
func checkTLS(c *Config) error {
	if err := checkSSLContextHook(c); err != nil {
		return err
	}
	if c.CertFile == "" {
		for _, s := range []struct {
			set  bool
			flag string
		}{{c.KeyFile != "", "--keyfile"}, {len(c.PlainBind) > 0, "--plain-bind"}} {
			if s.set {
				return &Error{Err: fmt.Errorf("%s needs --certfile: TLS is on only with a certificate", s.flag)}
			}
		}
		// As Gunicorn does, which reads them only when TLS is on: a shared
		// config file may set them for the deployments that give a
		// certificate.
		for _, s := range []struct {
			set  bool
			flag string
		}{
			{c.CACerts != "", "--ca-certs"}, {c.CertReqs != 0, "--cert-reqs"}, {c.Ciphers != "", "--ciphers"},
			{c.SSLVersion != SSLVersionTLS12, "--ssl-version"},
		} {
			if s.set {
				c.Notices = append(c.Notices, s.flag+" is ignored: TLS is on only with --certfile")
			}
		}
		return nil
	}
	if c.SSLVersion != SSLVersionTLS12 && c.SSLVersion != SSLVersionTLS13 {
		c.Notices = append(c.Notices, fmt.Sprintf("--ssl-version %s: served as TLSv1_2, TLS 1.2 or newer "+
			"(RFC 8996 deprecates older versions; Gunicorn 21 and later ignore ssl_version)", c.SSLVersion))
	}
	for _, p := range c.PlainBind {
		if !slices.Contains(c.Bind, p) {
			return &Error{Err: fmt.Errorf("--plain-bind %s is not one of the --bind addresses %v: "+
				"bind it with --bind too, and --plain-bind makes it plain HTTP", p, c.Bind)}
		}
	}
	if c.CertReqs > 0 && c.CACerts == "" {
		return &Error{Err: errors.New("--cert-reqs 1 or 2 needs --ca-certs: the CA certificates that sign the clients' certificates")}
	}
	if c.Protocol == ProtocolUwsgi {
		return &Error{Err: errors.New("--certfile serves HTTPS; it does not apply to --protocol uwsgi")}
	}
	if n := cipherNotice(c); n != "" {
		c.Notices = append(c.Notices, n)
	}
	return nil
}

// checkSSLContextHook refuses Gunicorn's ssl_context hook when TLS is
// on: gowsgi's TLS is Go's, so the hook's changes to a Python SSLContext
// could not apply. Without --certfile Gunicorn never calls it, and a
// notice says so.
func checkSSLContextHook(c *Config) error {
	switch {
	case c.sslContextHook == "":
	case c.CertFile != "":
		return &Error{Source: c.sslContextHook, Name: "ssl_context", Err: fmt.Errorf("gowsgi cannot run this hook: %s",
			unsupportedReason("ssl_context"))}
	default:
		c.Notices = append(c.Notices, fmt.Sprintf("%s: ssl_context is never called: TLS is off (no certfile), "+
			"and Gunicorn calls it only to serve TLS", c.sslContextHook))
	}
	return nil
}

// EnvKeyfilePassword is the environment variable that gives
// --ssl-keyfile-password. Only the master reads it: the processes that
// run the app do not inherit it (master.childEnviron).
const EnvKeyfilePassword = "GOWSGI_SSL_KEYFILE_PASSWORD"

// TLSMaterial is what a worker needs to serve TLS, read by the master.
type TLSMaterial struct {
	Cert      []byte `json:"cert"`                 // PEM: the certificate, then its chain
	Key       []byte `json:"key"`                  // PEM: the private key
	ClientCAs []byte `json:"client_cas,omitempty"` // PEM: CAs for client certificates
	// TicketSecret is the generation's secret from which every worker
	// derives the same session-ticket keys (worker/tls.go), so a client
	// resumes on any worker. The master makes a new one at start and on
	// each HUP.
	TicketSecret []byte `json:"ticket_secret"`
}

// LoadTLSMaterial reads and checks c's certificate, key and client CAs.
// Its errors name the file and the problem, in one line.
func LoadTLSMaterial(c *Config) (*TLSMaterial, error) {
	if c.CertFile == "" {
		return nil, nil
	}
	m := &TLSMaterial{}
	var err error
	if m.Cert, err = readPEMFile("certfile", c.CertFile); err != nil {
		return nil, err
	}
	keyFile := c.KeyFile
	if keyFile == "" {
		keyFile = c.CertFile
	}
	if m.Key, err = readPEMFile("keyfile", keyFile); err != nil {
		return nil, err
	}
	if m.Key, err = decryptKey(m.Key, keyFile, c.SSLKeyfilePassword); err != nil {
		return nil, err
	}
	if c.CACerts != "" {
		if m.ClientCAs, err = readPEMFile("ca-certs", c.CACerts); err != nil {
			return nil, err
		}
	}
	if err := m.check(c, keyFile); err != nil {
		return nil, err
	}
	return m, nil
}

// decryptKey decrypts the encrypted private keys in the key file's PEM
// (package pemkey), so that what the workers receive is unencrypted.
// Its errors name the file and never show the password.
func decryptKey(pemData []byte, keyFile, password string) ([]byte, error) {
	out, _, err := pemkey.DecryptAll(pemData, []byte(password))
	switch {
	case errors.Is(err, pemkey.ErrNoPassword):
		return nil, fmt.Errorf("--keyfile %s: the private key is encrypted and no password was given: set "+
			"--ssl-keyfile-password, GOWSGI_SSL_KEYFILE_PASSWORD or ssl_keyfile_password in the config file", keyFile)
	case errors.Is(err, pemkey.ErrIncorrectPassword):
		return nil, fmt.Errorf("--keyfile %s: cannot decrypt the private key: wrong --ssl-keyfile-password", keyFile)
	case err != nil:
		return nil, fmt.Errorf("--keyfile %s: cannot decrypt the private key: %w", keyFile, err)
	}
	return out, nil
}

func readPEMFile(what, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("--%s %s: %w", what, path, err)
	}
	return b, nil
}

// check parses the material as the worker will.
func (m *TLSMaterial) check(c *Config, keyFile string) error {
	var certs, keys int
	for rest := m.Cert; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		certs++
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Errorf("--certfile %s: certificate %d: %w", c.CertFile, certs, err)
		}
	}
	if certs == 0 {
		return fmt.Errorf("--certfile %s: no PEM certificate (BEGIN CERTIFICATE) in it", c.CertFile)
	}
	for rest := m.Key; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			keys++
		}
	}
	if keys == 0 {
		return fmt.Errorf("--keyfile %s: no PEM private key (BEGIN PRIVATE KEY) in it", keyFile)
	}
	if _, err := tls.X509KeyPair(m.Cert, m.Key); err != nil {
		return fmt.Errorf("--keyfile %s: does not go with --certfile %s: %w", keyFile, c.CertFile, err)
	}
	if m.ClientCAs != nil && !x509.NewCertPool().AppendCertsFromPEM(m.ClientCAs) {
		return fmt.Errorf("--ca-certs %s: no PEM certificate (BEGIN CERTIFICATE) in it", c.CACerts)
	}
	return nil
}

// ServerConfig builds the crypto/tls configuration a worker serves with,
// without session-ticket keys (the worker sets and rotates them).
func (m *TLSMaterial) ServerConfig(c *Config) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(m.Cert, m.Key)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		// ALPN (RFC 7301): HTTP/1.1 only; h2 would be added here.
		NextProtos: []string{"http/1.1"},
	}
	if c.SSLVersion == SSLVersionTLS13 {
		tc.MinVersion = tls.VersionTLS13
	}
	if c.Ciphers != "" {
		sel, err := selectCiphers(c.Ciphers)
		if err != nil {
			return nil, fmt.Errorf("--ciphers: %w", err)
		}
		tc.CipherSuites = sel.ids
	}
	if m.ClientCAs != nil {
		tc.ClientCAs = x509.NewCertPool()
		tc.ClientCAs.AppendCertsFromPEM(m.ClientCAs)
	}
	// Python's ssl.CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED.
	switch c.CertReqs {
	case 1:
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	case 2:
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// tlsSettings take their place in settings after the proxies.
var tlsSettings = []*setting{
	// Gunicorn's SSL settings, served with Go's crypto/tls
	{
		name: "certfile", flags: []string{"certfile", "ssl-certfile"}, kind: kindString, def: "",
		help:  "serve HTTPS with the PEM certificate (chain) in `FILE`; off when empty",
		field: func(c *Config) any { return &c.CertFile },
	},
	{
		name: "keyfile", flags: []string{"keyfile", "ssl-keyfile"}, kind: kindString, def: "",
		help:  "read the certificate's PEM private key from `FILE` (default: from --certfile)",
		field: func(c *Config) any { return &c.KeyFile },
	},
	{
		name: "ssl_keyfile_password", flags: []string{"ssl-keyfile-password"}, kind: kindString, def: "",
		env:    EnvKeyfilePassword,
		secret: true,
		help:   "decrypt an encrypted --keyfile with `PASSWORD` (as Uvicorn's; prefer GOWSGI_SSL_KEYFILE_PASSWORD or the config file: a flag stays in shell history)",
		field:  func(c *Config) any { return &c.SSLKeyfilePassword },
	},
	{
		name: "ca_certs", flags: []string{"ca-certs", "ssl-ca-certs"}, kind: kindString, def: "",
		help:  "verify client certificates against the PEM CA certificates in `FILE`",
		field: func(c *Config) any { return &c.CACerts },
	},
	{
		name: "cert_reqs", flags: []string{"cert-reqs", "ssl-cert-reqs"}, kind: kindInt, def: "0",
		help:      "client certificates: `N` = 0 not asked, 1 verified if given, 2 required and verified",
		normalize: intRange(0, 2),
		field:     func(c *Config) any { return &c.CertReqs },
	},
	{
		name: "ssl_version", flags: []string{"ssl-version"}, kind: kindString, def: "TLS_SERVER", intOK: true,
		help:      "the oldest TLS `VERSION` accepted: TLSv1_2 (also TLS, TLS_SERVER, SSLv23) or TLSv1_3",
		normalize: normalizeSSLVersion,
		field:     func(c *Config) any { return &c.SSLVersion },
	},
	{
		name: "ciphers", flags: []string{"ciphers", "ssl-ciphers"}, kind: kindString, def: "",
		help:      "allow only the TLS 1.2 cipher suites the OpenSSL cipher `STRING` selects; default: Go's",
		normalize: normalizeCiphers,
		field:     func(c *Config) any { return &c.Ciphers },
	},
	{
		name: "plain_bind", flags: []string{"plain-bind"}, kind: kindList, def: "",
		help:      "with --certfile, serve plain HTTP on `ADDRESS`, one of the --bind addresses (repeatable; by default TLS is on every bind)",
		normalize: eachItem(normalizeBind),
		field:     func(c *Config) any { return &c.PlainBind },
	},
	{
		name: "do_handshake_on_connect", flags: []string{"do-handshake-on-connect"}, kind: kindBool, def: "false",
		help:  "accepted for Gunicorn: the handshake always runs on the connection's goroutine before its first request",
		field: func(c *Config) any { return &c.DoHandshakeOnConnect },
	},
	{
		name: "suppress_ragged_eofs", flags: []string{"suppress-ragged-eofs"}, kind: kindBool, def: "true",
		help:  "treat a client that closes without a TLS close_notify as having closed (false: log it)",
		field: func(c *Config) any { return &c.SuppressRaggedEOFs },
	},
}
