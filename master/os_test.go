package master

import (
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/config"
)

func TestPidfileUpgradeDance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gowsgi.pid")
	old, err := writePidfile(path, 111, false)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := writePidfile(path, 222, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := readPid(t, path); got != 111 {
		t.Fatalf("PIDFILE = %d during the upgrade; want the old master 111", got)
	}
	if got := readPid(t, path+".2"); got != 222 {
		t.Fatalf("PIDFILE.2 = %d; want the new master 222", got)
	}
	if err := fresh.promote(); err != nil {
		t.Fatal(err)
	}
	old.remove() // the old master exits late: the file is not its own any more
	if got := readPid(t, path); got != 222 {
		t.Fatalf("PIDFILE = %d after the promotion; want 222", got)
	}
	if _, err := os.Stat(path + ".2"); !os.IsNotExist(err) {
		t.Fatalf("PIDFILE.2 still exists after the promotion")
	}
	fresh.remove()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("PIDFILE left after the owner removed it")
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s holds %q", path, b)
	}
	return n
}

func TestScanCodeSeesPythonChangesOnly(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("app.py", "x = 1")
	write("pkg/mod.py", "y = 2")
	write(".venv/pyvenv.cfg", "")
	write(".venv/lib/site.py", "")
	write("env/pyvenv.cfg", "")
	write("env/lib/thing.py", "")
	write("pkg/__pycache__/mod.cpython-311.py", "")
	write("README.md", "")
	w, _ := newCodeWatch(&config.Config{}, root)
	before := w.scan()
	if len(before) != 2 {
		t.Fatalf("watched %v; want app.py and pkg/mod.py only", keys(before))
	}
	write("README.md", "changed")
	write("env/lib/thing.py", "changed")
	if p := diffStamps(before, w.scan()); p != "" {
		t.Fatalf("a change to %s counted as a code change", p)
	}
	write("pkg/mod.py", "y = 3 # longer")
	if p := diffStamps(before, w.scan()); p != filepath.Join(root, "pkg/mod.py") {
		t.Fatalf("changed file = %q; want pkg/mod.py", p)
	}
	os.Remove(filepath.Join(root, "app.py"))
	after := w.scan()
	if _, ok := after[filepath.Join(root, "app.py")]; ok || diffStamps(before, after) == "" {
		t.Fatalf("a removed file was not seen")
	}
}

// TestReloadFilesAsUvicornPicksThem: --reload-dir replaces the app's
// directory, --reload-include adds patterns to *.py, --reload-exclude
// drops files and whole directories, as Uvicorn's file filter does.
func TestReloadFilesAsUvicornPicksThem(t *testing.T) {
	base, other := t.TempDir(), t.TempDir()
	for _, f := range []string{"app.py", "templates/index.html", "templates/old/x.html", "static/site.css",
		"gen/out.py", ".hidden.py", "~lock.py", "notes.txt"} {
		p := filepath.Join(base, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, nil, 0o644)
	}
	os.WriteFile(filepath.Join(other, "lib.py"), nil, 0o644)
	rel := func(m map[string]fileStamp) []string {
		var out []string
		for k := range m {
			r, _ := filepath.Rel(base, k)
			out = append(out, r)
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		cfg     config.Config
		want    []string
		notices int
	}{
		{config.Config{}, []string{"app.py", "gen/out.py"}, 0},
		{config.Config{ReloadIncludes: []string{"*.html"}, ReloadExcludes: []string{"gen", "old/*.html"}},
			[]string{"app.py", "templates/index.html"}, 0},
		{config.Config{ReloadIncludes: []string{"templates/old/x.html", "*.css"}, ReloadExcludes: []string{"*.html"}},
			[]string{"app.py", "gen/out.py", "static/site.css", "templates/old/x.html"}, 0},
		{config.Config{ReloadExcludes: []string{"*.py"}, ReloadIncludes: []string{"*.txt"}}, []string{"notes.txt"}, 0},
		{config.Config{ReloadDirs: []string{other, "missing"}}, []string{"../" + filepath.Base(other) + "/lib.py"}, 1},
		{config.Config{ReloadDirs: []string{"missing"}}, []string{"app.py", "gen/out.py"}, 1},
	} {
		w, notices := newCodeWatch(&tc.cfg, base)
		if got := rel(w.scan()); !slices.Equal(got, tc.want) || len(notices) != tc.notices {
			t.Errorf("%+v: watched %q, notices %q; want %q and %d notices", tc.cfg.ReloadDirs, got, notices, tc.want, tc.notices)
		}
	}
}

func keys(m map[string]fileStamp) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestQuiesceKeepsQueuedAndRefusesNew checks the socket filter on a real
// listening socket: a connection queued before stays acceptable with its
// data, a new one is not accepted, and the queue reads as empty once
// drained.
func TestQuiesceKeepsQueuedAndRefusesNew(t *testing.T) {
	ls, err := bind([]string{"127.0.0.1:0"}, 16, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer closeListeners(ls)
	queued, err := net.Dial("tcp", ls[0].addr)
	if err != nil {
		t.Fatal(err)
	}
	defer queued.Close()
	queued.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	fd := int(ls[0].file.Fd())
	if awaitEmptyQueues([]int{fd}, time.Now()) {
		t.Fatalf("the queue reads as empty with a connection in it")
	}
	done := quiesce(ls, -1, true, 10*time.Second)
	select {
	case <-done:
		t.Fatalf("quiesce returned with a connection still queued")
	case <-time.After(50 * time.Millisecond):
	}
	d := net.Dialer{Timeout: 300 * time.Millisecond}
	if c, err := d.Dial("tcp", ls[0].addr); err == nil {
		c.Close()
		t.Fatalf("a new connection was accepted into the queue after quiesce")
	}
	l, err := net.FileListener(ls[0].file)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 3)
	if _, err := c.Read(buf); err != nil || string(buf) != "GET" {
		t.Fatalf("the queued connection read %q, %v; want its request", buf, err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("quiesce did not end once the queue was empty")
	}
}

// A unix socket file is never more open than --umask allows, from the
// moment it is bound (the first worker sets its exact mode later).
func TestUnixSocketBoundUnderUmask(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ls, err := bind([]string{"unix:" + path}, 16, false, 0o077)
	if err != nil {
		t.Fatal(err)
	}
	defer closeListeners(ls)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 || perm&0o600 != 0o600 {
		t.Fatalf("socket file mode %v; want the owner's rw and nothing for group or others (--umask 077)", perm)
	}
}

func TestQuiesceRemovesOwnSocketFileOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.sock")
	ls, err := bind([]string{"unix:" + path}, 16, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer closeListeners(ls)
	<-quiesce(ls, -1, false, time.Second)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the socket file is still there: new clients could queue")
	}
	// Another server binds the path now; our exit must leave it alone.
	other, err := bind([]string{"unix:" + path}, 16, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer closeListeners(other)
	removeSocketFiles(ls)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("exit removed another server's socket file: %v", err)
	}
}

func TestQuiesceLeavesForeignSockets(t *testing.T) {
	ls, err := bind([]string{"127.0.0.1:0"}, 16, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer closeListeners(ls)
	ls[0].owned = false // as if it came from systemd or fd://
	<-quiesce(ls, -1, true, time.Second)
	c, err := net.DialTimeout("tcp", ls[0].addr, time.Second)
	if err != nil {
		t.Fatalf("a socket we do not own was closed to new connections: %v", err)
	}
	c.Close()
}

func TestSdNotifySendsDatagram(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, state := range []string{"READY=1", "RELOADING=1"} {
		if err := sdNotify(path, state); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 256)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got := string(buf[:n])
		if !strings.HasPrefix(got, state) {
			t.Fatalf("datagram %q; want %s", got, state)
		}
		if state == "RELOADING=1" && !strings.Contains(got, "\nMONOTONIC_USEC=") {
			t.Fatalf("RELOADING=1 without MONOTONIC_USEC: %q", got)
		}
	}
}

func TestResolveBinaryFollowsArgv0(t *testing.T) {
	cases := []struct{ argv0, cwd, want string }{
		{"/opt/gowsgi/bin/gowsgi", "/srv", "/opt/gowsgi/bin/gowsgi"},
		{"bin/gowsgi", "/srv/app", "/srv/app/bin/gowsgi"},
		{"./gowsgi", "/srv", "/srv/gowsgi"},
	}
	for _, c := range cases {
		if got := resolveBinary(c.argv0, c.cwd); got != c.want {
			t.Errorf("resolveBinary(%q, %q) = %q; want %q", c.argv0, c.cwd, got, c.want)
		}
	}
}

func TestIPv4Ports(t *testing.T) {
	got := ipv4Ports([]string{"0.0.0.0:8000", "[::]:8000", ":9000", "127.0.0.1:0", "unix:/run/x.sock",
		"fd://3", "[::ffff:192.0.2.1]:7000", "[::1]:8001", "[2001:db8::1]:8002"})
	want := map[int]bool{8000: true, 9000: true, 7000: true}
	if !maps.Equal(got, want) {
		t.Errorf("ipv4Ports = %v; want %v", got, want)
	}
}
