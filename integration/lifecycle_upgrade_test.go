package integration

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func copyBinary(t *testing.T, dst string) {
	t.Helper()
	in, err := os.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func inodeOf(t *testing.T, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// parentOf reads the parent pid of pid from /proc.
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// TestLifecycleUSR2UpgradeUnderLoad replaces the binary on disk, sends
// USR2, lets the old workers go with WINCH and stops the old master with
// TERM: no connection is refused or fails, and the new binary serves
// from a new master that took over the pidfile.
func TestLifecycleUSR2UpgradeUnderLoad(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "gowsgi")
	pidfile := filepath.Join(dir, "gowsgi.pid")
	copyBinary(t, exe)
	s := start(t, serverOpts{binary: exe, args: []string{"-w", "2", "-p", pidfile, "lifecycle:app"}, ready: 2})
	oldMaster := s.cmd.Process.Pid
	l := startLoad(t, s.url("/?ms=5"), 6)
	l.waitOK(40)

	copyBinary(t, exe+".new") // the new release, renamed into place
	if err := os.Rename(exe+".new", exe); err != nil {
		t.Fatal(err)
	}
	release := inodeOf(t, exe)
	s.signal(syscall.SIGUSR2)
	s.waitFor(func() bool { return len(s.logged("upgrade: the new master serves")) == 1 })
	newMaster := readPidfile(pidfile + ".2")
	if newMaster == 0 || newMaster == oldMaster || readPidfile(pidfile) != oldMaster {
		t.Fatalf("pidfiles during the upgrade: PIDFILE %d, PIDFILE.2 %d; want %d and the new master",
			readPidfile(pidfile), newMaster, oldMaster)
	}
	l.waitOK(40)
	s.signal(syscall.SIGWINCH) // the old workers go; the new master serves alone
	s.waitFor(func() bool {
		n := 0
		for _, line := range s.find("worker exited") {
			if line.num("pid") == oldMaster {
				n++
			}
		}
		return n == 2
	})
	l.waitOK(40)
	s.signal(syscall.SIGTERM)
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("old master exit code %d; want 0", code)
	}
	eventually(t, "the new master to take over the pidfile", func() bool {
		_, err := os.Stat(pidfile + ".2")
		return readPidfile(pidfile) == newMaster && os.IsNotExist(err)
	})
	l.waitOK(40)
	code, body := s.get("/")
	worker, _ := strconv.Atoi(body)
	if code != 200 || parentOf(worker) != newMaster {
		t.Fatalf("after the upgrade %d %q is served by a child of %d; want the new master %d", code, body, parentOf(worker), newMaster)
	}
	if got := inodeOf(t, "/proc/"+strconv.Itoa(worker)+"/exe"); got != release {
		t.Fatalf("the worker runs binary inode %d; want the new release %d", got, release)
	}
	l.requireNoFailures(false)
	syscall.Kill(newMaster, syscall.SIGTERM)
	eventually(t, "the new master to exit and remove the pidfile", func() bool {
		_, err := os.Stat(pidfile)
		return os.IsNotExist(err)
	})
}

// TestLifecycleSystemdSocketActivation runs gowsgi the way a systemd
// .socket unit does, with systemd-socket-activate: the first connection
// starts it on the passed socket, READY=1 and STOPPING=1 reach
// NOTIFY_SOCKET, and the socket file, systemd's, is left in place.
func TestLifecycleSystemdSocketActivation(t *testing.T) {
	activate, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Fatalf("systemd-socket-activate is missing (Debian package systemd): %v", err)
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "gowsgi.sock")
	notifyPath := filepath.Join(dir, "notify")
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	s := start(t, serverOpts{binary: activate, bare: true, ready: -1, args: []string{
		"-l", sock, "-E", "NOTIFY_SOCKET=" + notifyPath,
		binary, "--chdir", appsDir, "-w", "2", "-b", "127.0.0.1:1", "lifecycle:app"}})
	// systemd-socket-activate says so once it has called listen(2).
	eventually(t, "the socket to be listening", func() bool { return strings.Contains(s.output(), "Listening on "+sock) })
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	resp, err := client.Get("http://gowsgi/")
	if err != nil {
		t.Fatalf("the first request, which starts gowsgi: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("first request: %d %q", resp.StatusCode, body)
	}
	if got := readNotify(t, notify); got != "READY=1" {
		t.Fatalf("notification %q; want READY=1", got)
	}
	if len(s.logged("using the sockets systemd passed")) != 1 {
		t.Fatalf("gowsgi did not say it uses the systemd socket instead of -b")
	}
	s.signal(syscall.SIGTERM)
	if got := readNotify(t, notify); got != "STOPPING=1" {
		t.Fatalf("notification %q; want STOPPING=1", got)
	}
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d; want 0", code)
	}
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("gowsgi removed systemd's socket file: %v", err)
	}
}

func readNotify(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 512)
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("reading NOTIFY_SOCKET: %v", err)
	}
	return string(buf[:n])
}

// TestLifecycleOrphansAreReaped: a process an app leaves behind is
// re-parented to the master (a child subreaper, as PID 1 in a container
// is) and reaped when it exits, never left a zombie.
func TestLifecycleOrphansAreReaped(t *testing.T) {
	s := start(t, serverOpts{args: []string{"lifecycle:app"}})
	code, body := s.get("/orphan")
	orphan, err := strconv.Atoi(body)
	if code != 200 || err != nil {
		t.Fatalf("GET /orphan = %d %q", code, body)
	}
	if ppid := parentOf(orphan); ppid != s.cmd.Process.Pid {
		t.Fatalf("the orphan %d has parent %d; want the master %d", orphan, ppid, s.cmd.Process.Pid)
	}
	eventually(t, "the orphan to be reaped", func() bool {
		_, err := os.Stat("/proc/" + strconv.Itoa(orphan))
		return os.IsNotExist(err)
	})
}
