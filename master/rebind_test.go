package master

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/config"
)

func bindConfig(bind ...string) *config.Config {
	return &config.Config{Bind: bind, Backlog: 16, Umask: 0o022}
}

// dialable reports whether a client can connect to addr now.
func dialable(network, addr string) bool {
	c, err := net.Dial(network, addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func TestRebindKeepsBoundAddressesAndOpensNewOnes(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "a.sock")
	first, err := bind([]string{"127.0.0.1:0", "unix:" + sock}, 16, false, 0o022)
	if err != nil {
		t.Fatal(err)
	}
	s := newListenerSets(first)
	t.Cleanup(func() { closeListeners(s.all()) })
	tcpAddr := first[0].addr
	// The TCP address by its resolved name, the unix socket as bound,
	// and a new address.
	opened, err := s.rebind(2, bindConfig(tcpAddr, "unix:"+sock, "127.0.0.2:0"))
	if err != nil {
		t.Fatal(err)
	}
	if len(opened) != 1 || opened[0].bind != "127.0.0.2:0" {
		t.Fatalf("opened %v; want only the new address", opened)
	}
	gen2 := s.forGen(2)
	if len(gen2) != 3 || gen2[0] != first[0] || gen2[1] != first[1] || gen2[2] != opened[0] {
		t.Fatalf("generation 2 gets %v; want the two kept sockets, then the new one", gen2)
	}
	if got := s.forGen(1); !slices.Equal(got, first) {
		t.Fatalf("generation 1 gets %v; want its own sockets %v", got, first)
	}
	if !dialable("tcp", opened[0].addr) {
		t.Fatal("the new address does not accept connections")
	}

	// Generation 3 drops the unix socket and the first port; once it
	// serves they close and the socket file goes.
	if _, err := s.rebind(3, bindConfig(opened[0].addr)); err != nil {
		t.Fatal(err)
	}
	closed := s.settle(3)
	if len(closed) != 2 {
		t.Fatalf("settle closed %v; want the first port and the unix socket", closed)
	}
	if dialable("tcp", tcpAddr) {
		t.Errorf("%s still accepts after it was dropped", tcpAddr)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("the dropped unix socket's file is still there: %v", err)
	}
	if got := s.all(); len(got) != 1 || got[0] != opened[0] || !dialable("tcp", opened[0].addr) {
		t.Fatalf("held %v after settling; want only the kept address, listening", got)
	}
}

func TestRebindFailureOpensNothing(t *testing.T) {
	first, err := bind([]string{"127.0.0.1:0"}, 16, false, 0o022)
	if err != nil {
		t.Fatal(err)
	}
	s := newListenerSets(first)
	t.Cleanup(func() { closeListeners(s.all()) })
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	sock := filepath.Join(t.TempDir(), "new.sock")
	_, err = s.rebind(2, bindConfig("unix:"+sock, busy.Addr().String()))
	if err == nil {
		t.Fatal("rebind onto an address in use succeeded")
	}
	if got := s.forGen(2); !slices.Equal(got, first) || len(s.all()) != 1 {
		t.Fatalf("after a failed rebind generation 2 gets %v; want the old sockets only", got)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("the failed rebind left its unix socket file: %v", err)
	}
}

// A wildcard over a held specific address on the same port cannot be
// bound while the old socket lives: the error says what holds it.
func TestRebindOntoAHeldPortSaysWhy(t *testing.T) {
	first, err := bind([]string{"127.0.0.1:0"}, 16, false, 0o022)
	if err != nil {
		t.Fatal(err)
	}
	s := newListenerSets(first)
	t.Cleanup(func() { closeListeners(s.all()) })
	port := first[0].addr[strings.LastIndexByte(first[0].addr, ':')+1:]
	_, err = s.rebind(2, bindConfig("0.0.0.0:"+port))
	if err == nil || !strings.Contains(err.Error(), "this server listens on "+first[0].addr+", which keeps the port until a restart") {
		t.Fatalf("rebind of 0.0.0.0:%s over %s: %v; want the reason", port, first[0].addr, err)
	}
}

func TestSettleOnFailureClosesTheNewListeners(t *testing.T) {
	first, err := bind([]string{"127.0.0.1:0"}, 16, false, 0o022)
	if err != nil {
		t.Fatal(err)
	}
	s := newListenerSets(first)
	t.Cleanup(func() { closeListeners(s.all()) })
	opened, err := s.rebind(2, bindConfig("127.0.0.2:0"))
	if err != nil {
		t.Fatal(err)
	}
	if closed := s.settle(1); len(closed) != 1 || closed[0] != opened[0] {
		t.Fatalf("settle(1) closed %v; want the new generation's socket", closed)
	}
	if !dialable("tcp", first[0].addr) || dialable("tcp", opened[0].addr) {
		t.Fatal("want the first socket listening and the new one closed")
	}
}

func TestSystemdListenersAreFixed(t *testing.T) {
	first, err := bind([]string{"127.0.0.1:0"}, 16, false, 0o022)
	if err != nil {
		t.Fatal(err)
	}
	defer closeListeners(first)
	first[0].owned, first[0].bind = false, "" // as adoptFD leaves systemd's
	s := newListenerSets(first)
	if _, err := s.rebind(2, bindConfig("127.0.0.1:0")); err != errFixedListeners {
		t.Fatalf("rebind of systemd's sockets: %v; want errFixedListeners", err)
	}
}

func TestAddressKeyMatchesSockName(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8000": "127.0.0.1:8000",
		":8000":          "0.0.0.0:8000",
		"0.0.0.0:8000":   "0.0.0.0:8000",
		"[::1]:8000":     "[::1]:8000",
		"unix:/run/a":    "unix:/run/a",
		"127.0.0.1:0":    "",
		"fd://3":         "",
	} {
		if got := addressKey(in); got != want {
			t.Errorf("addressKey(%q) = %q; want %q", in, got, want)
		}
	}
}

// A USR2 during a reload hands over the serving generation's sockets,
// not the booting one's, which a failed reload closes and unlinks.
func TestCurrentIsTheServingSet(t *testing.T) {
	first, err := bind([]string{"127.0.0.1:0"}, 16, false, 0o022)
	if err != nil {
		t.Fatal(err)
	}
	s := newListenerSets(first)
	t.Cleanup(func() { closeListeners(s.all()) })
	if _, err := s.rebind(2, bindConfig("127.0.0.2:0")); err != nil {
		t.Fatal(err)
	}
	if got := s.current(); !slices.Equal(got, first) {
		t.Fatalf("current() during a reload = %v; want the serving set %v", got, first)
	}
	s.settle(2)
	if got := s.current(); len(got) != 1 || got[0] == first[0] {
		t.Fatalf("current() after the commit = %v; want the new set", got)
	}
}

// "[::]:P" bound next to "0.0.0.0:P" is IPv6-only; a list without the
// IPv4 address would bind it for both stacks, which the kept socket
// cannot do: the reload is refused, and says why.
func TestRebindRefusesAStackChange(t *testing.T) {
	v4, err := bind([]string{"127.0.0.1:0"}, 16, false, 0o022)
	if err != nil {
		t.Fatal(err)
	}
	port := v4[0].addr[strings.LastIndexByte(v4[0].addr, ':')+1:]
	both := []string{"0.0.0.0:" + port, "[::]:" + port}
	closeListeners(v4)
	ls, err := bind(both, 16, false, 0o022)
	if err != nil {
		t.Skipf("cannot bind %v: %v", both, err)
	}
	s := newListenerSets(ls)
	t.Cleanup(func() { closeListeners(s.all()) })
	_, err = s.rebind(2, bindConfig("[::]:"+port))
	if err == nil || !strings.Contains(err.Error(), "a restart binds it for IPv4 clients too") {
		t.Fatalf("rebind to the IPv6 address alone: %v; want a refusal naming the restart", err)
	}
	if _, err := s.rebind(2, bindConfig(both...)); err != nil {
		t.Fatalf("rebind to the same pair: %v", err)
	}
}
