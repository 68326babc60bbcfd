package engine

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// Session tickets across key rotations (docs/tls.md, "Session resumption
// across workers"): keys rotate every ticketKeyPeriod of wall-clock time,
// and a ticket issued just before a rotation must still resume just
// after it, on the worker that issued it and on any other of the
// generation, until ticketKeysKept periods have passed.

// ticketWorker is a worker's TLS front at a chosen instant: its ticket
// keys are those of that instant, and its rotation timer is stopped, so
// the test moves the clock, not the timer.
func ticketWorker(t *testing.T, cert tls.Certificate, secret []byte, now time.Time) *tlsFront {
	t.Helper()
	f := &tlsFront{config: &tls.Config{Certificates: []tls.Certificate{cert}}, secret: secret}
	f.setTicketKeys(now)
	f.rotate.Stop()
	return f
}

// resumes makes one connection from client to f over loopback TCP and
// reports whether it resumed a session. (Not net.Pipe: in TLS 1.3 the
// server sends its tickets while the client sends its Finished, which
// an unbuffered pipe deadlocks.) The client reads one byte after the
// handshake, so the NewSessionTicket sent before it is taken in.
func resumes(t *testing.T, f *tlsFront, client *tls.Config) bool {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	deadline := time.Now().Add(10 * time.Second)
	done := make(chan error, 1)
	go func() {
		sc, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer sc.Close()
		sc.SetDeadline(deadline)
		s := tls.Server(sc, f.config)
		if err := s.Handshake(); err != nil {
			done <- err
			return
		}
		_, err = s.Write([]byte("x"))
		done <- err
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cc.SetDeadline(deadline)
	c := tls.Client(cc, client)
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatalf("client: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
	return c.ConnectionState().DidResume
}

// selfSignedCert is a P-256 certificate for localhost, valid for an hour
// either side of now, and a pool that trusts it.
func selfSignedCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestTicketResumesAcrossKeyRotation(t *testing.T) {
	cert, pool := selfSignedCert(t)
	secret := make([]byte, 32)
	rand.Read(secret)
	other := make([]byte, 32)
	rand.Read(other)
	// A rotation boundary: the start of a period.
	boundary := time.Unix(0, (time.Now().UnixNano()/int64(ticketKeyPeriod)+1)*int64(ticketKeyPeriod))
	before, after := boundary.Add(-time.Second), boundary.Add(time.Second)

	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			// A ticket issued by a worker one second before the rotation.
			client := &tls.Config{RootCAs: pool, ServerName: "localhost", MaxVersion: version,
				ClientSessionCache: tls.NewLRUClientSessionCache(4)}
			if resumes(t, ticketWorker(t, cert, secret, before), client) {
				t.Fatal("the first connection resumed")
			}
			session, ok := client.ClientSessionCache.Get("localhost")
			if !ok {
				t.Fatal("the client got no session ticket")
			}
			for _, tc := range []struct {
				name   string
				secret []byte
				at     time.Time
				want   bool
			}{
				{"a worker one second after the rotation", secret, after, true},
				{"a worker in the last period that keeps the key", secret, before.Add((ticketKeysKept - 1) * ticketKeyPeriod), true},
				{"a worker once the key is dropped", secret, before.Add(ticketKeysKept * ticketKeyPeriod), false},
				{"a worker of the next generation (HUP: a new secret)", other, after, false},
			} {
				// Each connection starts from the ticket issued before the
				// rotation (a resumption in TLS 1.3 brings a new one).
				client.ClientSessionCache.Put("localhost", session)
				if got := resumes(t, ticketWorker(t, cert, tc.secret, tc.at), client); got != tc.want {
					t.Errorf("%s: resumed %v; want %v", tc.name, got, tc.want)
				}
			}
		})
	}
}
