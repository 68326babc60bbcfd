package master

import (
	"crypto/rand"

	"github.com/gowsgi/gowsgi/config"
)

// ticketSecretSize is the secret's length; the worker derives 32-byte
// session-ticket keys from it (worker/tls.go).
const ticketSecretSize = 32

// loadTLS reads and checks cfg's certificate, key and client CAs into
// cfg.TLS, with a new session-ticket secret, so workers never open the
// files (they may run as a user who cannot read a key kept for root) and
// every worker of a generation resumes the others' sessions. The master
// calls it at start (an error exits 1) and on HUP (an error keeps the
// current generation serving with its certificate).
func loadTLS(cfg *config.Config) error {
	m, err := config.LoadTLSMaterial(cfg)
	if err != nil || m == nil {
		return err
	}
	m.TicketSecret = make([]byte, ticketSecretSize)
	rand.Read(m.TicketSecret) // never fails (crypto/rand, Go 1.24)
	cfg.TLS = m
	return nil
}
