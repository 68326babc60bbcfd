package integration

import (
	"bufio"
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

// The paths in examples/systemd that a test replaces with its own.
const (
	unitBinary  = "/usr/local/bin/gowsgi"
	unitAppDir  = "/srv/app"
	unitSocket  = "/run/gowsgi.sock"
	unitTCPBind = "127.0.0.1:8000"
)

// TestSystemdUnitsVerify checks examples/systemd with systemd's own
// parser: unknown keys, bad values or a missing binary fail it.
func TestSystemdUnitsVerify(t *testing.T) {
	analyze := debianTool(t, "systemd-analyze")
	dir := t.TempDir()
	replace := map[string]string{unitBinary: binary, unitAppDir: filepath.Join(repoDir(t), "examples")}
	for _, unit := range []string{"gowsgi.service", "gowsgi.socket"} {
		text := renderExample(t, filepath.Join("examples", "systemd", unit), unitReplacements(replace, unit))
		if err := os.WriteFile(filepath.Join(dir, unit), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(analyze, "verify", filepath.Join(dir, "gowsgi.socket"), filepath.Join(dir, "gowsgi.service")).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// unitReplacements keeps the replacements that apply to unit: the socket unit names
// neither the binary nor the app directory.
func unitReplacements(replace map[string]string, unit string) map[string]string {
	if strings.HasSuffix(unit, ".socket") {
		return nil
	}
	return replace
}

// TestSystemdSocketActivation runs the ExecStart of
// examples/systemd/gowsgi.service under systemd-socket-activate with the
// ListenStream sockets of gowsgi.socket, as systemd would: the sockets
// arrive as fds 3 and 4 (LISTEN_FDS), the connection that triggers the
// start is served, and READY=1 reaches NOTIFY_SOCKET from the main
// process (Type=notify, NotifyAccess=main).
func TestSystemdSocketActivation(t *testing.T) {
	activate := debianTool(t, "systemd-socket-activate")
	listens := systemdUnitValues(t, "gowsgi.socket", "ListenStream")
	if strings.Join(listens, " ") != unitSocket+" "+unitTCPBind {
		t.Fatalf("gowsgi.socket listens on %q; update the test with the unit", listens)
	}
	execStart := strings.Fields(systemdUnitValues(t, "gowsgi.service", "ExecStart")[0])
	dir := t.TempDir()
	sock := filepath.Join(dir, "gowsgi.sock")
	notify := listenNotifySocket(t, filepath.Join(dir, "notify.sock"))

	var s *server
	var tcp string
	for attempt := 0; s == nil; attempt++ {
		tcp = "127.0.0.1:" + strconv.Itoa(freeLoopbackPort(t))
		argv := []string{"-l", sock, "-l", tcp, "-E", "NOTIFY_SOCKET=" + notify.LocalAddr().String()}
		for _, arg := range execStart {
			arg = strings.ReplaceAll(arg, unitBinary, binary)
			argv = append(argv, strings.ReplaceAll(arg, unitAppDir, filepath.Join(repoDir(t), "examples")))
		}
		os.Remove(sock)
		cand := startCommand(t, exec.Command(activate, argv...), 0)
		cand.waitFor(func() bool {
			return strings.Contains(cand.output(), "Listening on "+tcp) || strings.Contains(cand.output(), "in use")
		})
		if strings.Contains(cand.output(), "Listening on "+tcp) {
			s = cand
		} else if attempt == 4 {
			t.Fatalf("systemd-socket-activate cannot listen:\n%s", cand.output())
		}
	}

	// This first connection makes systemd-socket-activate exec gowsgi.
	code, body := do(t, http.MethodGet, "http://"+tcp+"/", "")
	if code != 200 || body != "Hello, World!" {
		t.Fatalf("GET over the TCP socket = %d %q", code, body)
	}
	ready := awaitNotification(t, notify, "READY=1")
	if ready.pid != int32(s.cmd.Process.Pid) {
		t.Fatalf("READY=1 came from pid %d; NotifyAccess=main wants the main process, %d", ready.pid, s.cmd.Process.Pid)
	}
	s.waitFor(func() bool {
		return len(s.find("using the sockets systemd passed (LISTEN_FDS); the bind setting is ignored")) == 1
	})
	// The master logs each "worker ready" before READY=1; the log pipe
	// may deliver the line after the datagram arrives.
	s.waitFor(func() bool { return len(s.find("worker ready")) == 2 })
	if code, body := getOverUnixSocket(t, sock, "/"); code != 200 || body != "Hello, World!" {
		t.Fatalf("GET over the unix socket = %d %q", code, body)
	}
	// systemctl stop with KillMode=mixed: TERM to the main process.
	s.signal(syscall.SIGTERM)
	if code := s.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after TERM; want 0", code)
	}
}

// systemdUnitValues returns the values of key in examples/systemd/unit.
func systemdUnitValues(t *testing.T, unit, key string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoDir(t), "examples", "systemd", unit))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vals []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.TrimSpace(k) == key {
			vals = append(vals, strings.TrimSpace(v))
		}
	}
	if len(vals) == 0 {
		t.Fatalf("%s has no %s", unit, key)
	}
	return vals
}

// listenNotifySocket opens a datagram socket like systemd's NOTIFY_SOCKET,
// asking the kernel for each sender's credentials.
func listenNotifySocket(t *testing.T, path string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_PASSCRED, 1)
	})
	if serr != nil {
		t.Fatal(serr)
	}
	return c
}

type sdNotification struct {
	state string
	pid   int32
}

// awaitNotification reads notifications until one has the line want.
func awaitNotification(t *testing.T, c *net.UnixConn, want string) sdNotification {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	buf, oob := make([]byte, 4096), make([]byte, 256)
	var seen []string
	for {
		n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			t.Fatalf("no %s on NOTIFY_SOCKET (got %q): %v", want, seen, err)
		}
		msg := sdNotification{state: string(buf[:n])}
		if cmsgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil && len(cmsgs) > 0 {
			if cred, err := syscall.ParseUnixCredentials(&cmsgs[0]); err == nil {
				msg.pid = cred.Pid
			}
		}
		seen = append(seen, msg.state)
		for _, line := range strings.Split(msg.state, "\n") {
			if line == want {
				return msg
			}
		}
	}
}

// getOverUnixSocket does one GET over a unix socket.
func getOverUnixSocket(t *testing.T, sock, path string) (int, string) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	req, _ := http.NewRequest(http.MethodGet, "http://localhost"+path, nil)
	req.Close = true
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := bufio.NewReader(resp.Body).WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b.String()
}
