package integration

import (
	"os/exec"
	"testing"
)

// TestAddressSpaceLimitIsNamed: under an address-space limit (ulimit -v)
// too tight for the Go runtime's reservations, a process may fail to
// start a thread with a crash dump that names no cause; the master says
// at start what the limit is and what to use instead. 3 GiB still runs.
func TestAddressSpaceLimitIsNamed(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatalf("prlimit: %v (util-linux)", err)
	}
	s := start(t, serverOpts{binary: prlimit, bare: true, args: []string{"--as=3221225472", binary,
		"--chdir", appsDir, "-b", "127.0.0.1:0", "basic:hello"}})
	if code, _ := s.get("/"); code != 200 {
		t.Fatalf("GET / = %d", code)
	}
	l := s.logged("an address-space limit (ulimit -v) under 4 GiB")
	if len(l) != 1 || l[0].num("as_limit_mib") != 3072 || l[0].str("level") != "warn" {
		t.Errorf("the warning: %v", l)
	}
}
