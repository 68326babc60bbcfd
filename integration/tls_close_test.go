package integration

import (
	"regexp"
	"strings"
	"testing"
)

// closeNotifyRead is how openssl s_client -msg shows a close_notify it
// read from the server (<<<; >>> is its own).
var closeNotifyRead = regexp.MustCompile(`<<< TLS 1\.[23], Alert \[length 0002\], warning close_notify`)

// The server sends a close_notify alert before it closes a TLS connection
// (RFC 8446 §6.1), after an HTTP error (a malformed request: 400, then
// a lingering close) as after a response with Connection: close. Seen by
// openssl s_client against bin/gowsgi: without the alert it reports
// "unexpected eof while reading" and answers with a decode_error alert.
func TestTLSCloseNotifyOpenSSL(t *testing.T) {
	flags, ca := tlsServerFlags(t)
	caFile := ca.write(t, t.TempDir(), "ca.pem")
	s := start(t, serverOpts{args: append([]string{"tlsapp:app"}, flags...)})

	cases := []struct{ name, req, status string }{
		{"malformed request", "GET / HTTP/1.1\r\nHost: localhost\r\nNo colon here\r\n\r\n", "HTTP/1.1 400 Bad Request"},
		{"connection close", "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", "HTTP/1.1 200 OK"},
	}
	for _, version := range []string{"-tls1_3", "-tls1_2"} {
		for _, tc := range cases {
			t.Run(version+"/"+tc.name, func(t *testing.T) {
				// -ign_eof: s_client reads until the server closes, after
				// its stdin ends.
				out, errOut, err := runClient(t, tc.req, "openssl", "s_client", version, "-connect", s.address(),
					"-servername", "localhost", "-CAfile", caFile, "-ign_eof", "-quiet", "-msg")
				all := out + errOut
				if err != nil || !strings.Contains(all, tc.status) {
					t.Fatalf("openssl s_client: %v; want %q:\n%s", err, tc.status, all)
				}
				if !closeNotifyRead.MatchString(all) || strings.Contains(all, "unexpected eof") {
					t.Fatalf("openssl s_client read no close_notify from the server:\n%s", all)
				}
			})
		}
	}
}
