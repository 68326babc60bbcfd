package master

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/gowsgi/gowsgi/config"
	"golang.org/x/sys/unix"
)

// listenerSets holds the master's listening sockets by generation. A
// HUP that changes --bind opens the new addresses for the generation it
// boots (keeping the sockets of addresses still bound, so they never
// stop accepting), and once that generation serves the sockets nobody
// binds any more are closed; if it fails, the new ones are. Gunicorn
// closes every listener and binds the new list when the address list
// changed, which cannot rebind an address its old workers still hold.
//
// The arbiter goroutine opens and closes; the StatsD backlog goroutine
// reads, under mu.
type listenerSets struct {
	mu   sync.Mutex
	sets []genListeners // ascending by generation; never empty
	// fixed: the sockets came from systemd (directly or through an
	// upgrading master), which owns the addresses; a HUP cannot change
	// them.
	fixed bool
}

// genListeners is the listeners of generations gen and later, until the
// next set.
type genListeners struct {
	gen int
	ls  []*listener
}

// errFixedListeners is rebind's answer when the listeners came from
// systemd.
var errFixedListeners = errors.New("the listening sockets came from systemd (LISTEN_FDS), which owns them; the bind setting is ignored")

// firstGen is the generation number of the workers a master starts
// with (newArbiter).
const firstGen = 1

func newListenerSets(ls []*listener) *listenerSets {
	s := &listenerSets{sets: []genListeners{{gen: firstGen, ls: ls}}}
	for _, l := range ls {
		// Not ours and not bound from a --bind value: systemd's.
		s.fixed = s.fixed || (!l.owned && l.bind == "")
	}
	return s
}

// forGen is the listeners the workers of generation gen get.
func (s *listenerSets) forGen(gen int) []*listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := s.sets[0].ls
	for _, set := range s.sets {
		if set.gen <= gen {
			ls = set.ls
		}
	}
	return ls
}

// current is the set of the generation serving (settle leaves it first;
// a reload's, booting, follows): what a USR2 hands over. A booting set
// may still fail and be closed, its socket files removed under a new
// master that took them.
func (s *listenerSets) current() []*listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sets[0].ls
}

// each calls f with every listener held, once each, under the lock, so
// none is closed meanwhile.
func (s *listenerSets) each(f func(*listener)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[*listener]bool{}
	for _, set := range s.sets {
		for _, l := range set.ls {
			if !seen[l] {
				seen[l] = true
				f(l)
			}
		}
	}
}

// all is every listener held, once each.
func (s *listenerSets) all() []*listener {
	var ls []*listener
	s.each(func(l *listener) { ls = append(ls, l) })
	return ls
}

// rebind opens the listeners of cfg.Bind for generation gen: an address
// the newest set already listens on keeps its socket (its backlog and
// SO_REUSEPORT stay as bound), any other is bound. It returns the
// addresses it bound; on error it closes them and nothing changes.
func (s *listenerSets) rebind(gen int, cfg *config.Config) ([]*listener, error) {
	if s.fixed {
		return nil, errFixedListeners
	}
	s.mu.Lock()
	held := s.sets[len(s.sets)-1].ls
	s.mu.Unlock()
	v4 := ipv4Ports(cfg.Bind)
	var ls, opened []*listener
	for _, a := range cfg.Bind {
		l, isNew, err := keepOrBind(held, a, cfg, v4)
		if err != nil {
			closeListeners(opened)
			removeSocketFiles(opened)
			return nil, err
		}
		ls = append(ls, l)
		if isNew {
			opened = append(opened, l)
		}
	}
	s.mu.Lock()
	s.sets = append(s.sets, genListeners{gen: gen, ls: ls})
	s.mu.Unlock()
	return opened, nil
}

// keepOrBind is the held listener for address a, or a new one bound for
// it (isNew).
func keepOrBind(held []*listener, a string, cfg *config.Config, v4 map[int]bool) (l *listener, isNew bool, err error) {
	if l := findListener(held, a); l != nil {
		return l, false, sameStack(l, a, v4)
	}
	l, err = bindOne(a, cfg.Backlog, cfg.ReusePort, cfg.Umask, v4)
	if err != nil {
		if owner := samePort(held, a); errors.Is(err, unix.EADDRINUSE) && owner != nil {
			// 127.0.0.1:P held, 0.0.0.0:P wanted: the old socket keeps
			// the port while its workers serve.
			return nil, false, fmt.Errorf("bind %s: %w: this server listens on %s, which keeps the port until a restart", a, err, owner.addr)
		}
		return nil, false, fmt.Errorf("bind %s: %w", a, err)
	}
	l.bind = a
	return l, true, nil
}

// settle keeps only the listeners of generation gen's set and closes
// the others, removing the socket files it created: at a reload's
// commit gen is the new generation, when one fails the current one.
// The workers of other generations keep their own copies of the
// sockets until they exit. It returns the listeners closed.
func (s *listenerSets) settle(gen int) []*listener {
	keep := s.forGen(gen)
	kept := map[*listener]bool{}
	for _, l := range keep {
		kept[l] = true
	}
	var closed []*listener
	s.each(func(l *listener) {
		if !kept[l] {
			closed = append(closed, l)
		}
	})
	s.mu.Lock()
	s.sets = []genListeners{{gen: firstGen, ls: keep}}
	closeListeners(closed)
	s.mu.Unlock()
	removeSocketFiles(closed)
	return closed
}

// sameStack checks that a kept "[::]:P" socket takes IPv4 clients exactly
// when a fresh bind of a would (bindTCP): IPv6-only when the same port
// is bound on IPv4 too, else dual-stack. A socket's IPV6_V6ONLY cannot
// change once bound, and keeping "[::]:P" that was bound IPv6-only next
// to "0.0.0.0:P" after the latter left the list refused IPv4 clients.
func sameStack(l *listener, a string, ipv4Ports map[int]bool) error {
	ta, err := net.ResolveTCPAddr("tcp", a)
	if err != nil || !ta.IP.IsUnspecified() || ta.IP.To4() != nil {
		return nil // only the IPv6 wildcard takes IPv4 clients
	}
	only, err := unix.GetsockoptInt(int(l.file.Fd()), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
	if err != nil || (only == 1) == ipv4Ports[ta.Port] {
		return nil
	}
	if only == 1 {
		return fmt.Errorf("bind %s: its socket takes IPv6 clients only (it was bound next to an IPv4 address on port %d); a restart binds it for IPv4 clients too", a, ta.Port)
	}
	return fmt.Errorf("bind %s: its socket takes IPv4 clients too, where the new list binds port %d on IPv4 as well; a restart binds them apart", a, ta.Port)
}

// samePort is the TCP listener in ls on a's port, or nil.
func samePort(ls []*listener, a string) *listener {
	ta, err := net.ResolveTCPAddr("tcp", a)
	if err != nil || ta.Port == 0 || strings.HasPrefix(a, "unix:") || strings.HasPrefix(a, "fd://") {
		return nil
	}
	for _, l := range ls {
		if _, port, err := net.SplitHostPort(l.addr); err == nil && port == strconv.Itoa(ta.Port) {
			return l
		}
	}
	return nil
}

// findListener is the listener in ls that address a (a --bind value)
// names: bound from the same value, or listening on the address it
// resolves to (another spelling; a socket from an upgrading master of
// an older binary). A port 0 value matches only itself.
func findListener(ls []*listener, a string) *listener {
	key := addressKey(a)
	for _, l := range ls {
		if l.bind == a || (key != "" && l.addr == key) {
			return l
		}
	}
	return nil
}

// addressKey is the address a --bind value listens on, as sockName
// writes it; "" when that cannot be known before binding (port 0, an
// fd).
func addressKey(a string) string {
	switch {
	case strings.HasPrefix(a, "unix:"):
		return a
	case strings.HasPrefix(a, "fd://"):
		return ""
	}
	ta, err := net.ResolveTCPAddr("tcp", a)
	if err != nil || ta.Port == 0 {
		return ""
	}
	ip := ta.IP
	if ip == nil {
		ip = net.IPv4zero // bindTCP binds a bare port on IPv4's wildcard
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(ta.Port))
}
