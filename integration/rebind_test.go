package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// TestHUPRebindsAChangedBindAndMovesThePidfile: as Gunicorn's reload
// does, a HUP after the bind or pidfile setting changed listens on the
// new addresses and writes the new pidfile; an address still listed
// keeps its socket, so its clients are never refused meanwhile. With
// --preload the new generation's zygote hands the new sockets on.
func TestHUPRebindsAChangedBindAndMovesThePidfile(t *testing.T) {
	t.Run("re-exec", func(t *testing.T) { hupRebinds(t) })
	t.Run("preload", func(t *testing.T) { hupRebinds(t, "--preload") })
}

func hupRebinds(t *testing.T, extra ...string) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "new.sock")
	oldPid, newPid := filepath.Join(dir, "old.pid"), filepath.Join(dir, "new.pid")
	conf := writeConf(t, dir, "gunicorn.conf.py",
		fmt.Sprintf("bind = ['127.0.0.1:0']\nworkers = 1\npidfile = %q\n", oldPid))
	s := start(t, serverOpts{bare: true, args: append(append([]string{"--chdir", appsDir, "-c", conf}, extra...), "basic:hello")})
	if preloaded := len(s.find("zygote started")) > 0; preloaded != (len(extra) > 0) {
		t.Fatalf("zygote started: %v; want %v", preloaded, len(extra) > 0)
	}
	first := s.workerPIDs()

	// HUP 1: the first address stays, a unix socket is added; requests
	// to the first address go on throughout.
	writeConf(t, dir, "gunicorn.conf.py",
		fmt.Sprintf("bind = [%q, 'unix:%s']\nworkers = 1\npidfile = %q\n", s.addr, sock, newPid))
	var served, failed atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := client.Get(s.url("/"))
			if err != nil {
				failed.Add(1)
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			served.Add(1)
		}
	}()
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 1 && disjoint(pids, first) })
	close(stop)
	<-done
	if failed.Load() != 0 || served.Load() == 0 {
		t.Fatalf("the kept address during the HUP: %d served, %d failed; want none failed", served.Load(), failed.Load())
	}
	if code, body := getUnix(t, sock, "/"); code != 200 || body != "Hello, World!" {
		t.Fatalf("over the new unix socket: %d %q", code, body)
	}
	if code, _ := s.get("/"); code != 200 {
		t.Fatalf("over the kept address: %d", code)
	}
	if _, err := os.Stat(oldPid); !os.IsNotExist(err) {
		t.Errorf("the old pidfile is still there: %v", err)
	}
	if data, err := os.ReadFile(newPid); err != nil || strings.TrimSpace(string(data)) != strconv.Itoa(s.cmd.Process.Pid) {
		t.Errorf("new pidfile: %q, %v; want the master's pid", data, err)
	}

	// HUP 2: the TCP address goes; once the old worker has exited it
	// refuses connections, and the unix socket serves on.
	second := s.workerPIDs()
	writeConf(t, dir, "gunicorn.conf.py", fmt.Sprintf("bind = ['unix:%s']\nworkers = 1\npidfile = %q\n", sock, newPid))
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 1 && disjoint(pids, second) })
	if got := s.find("reloaded: no longer listening; the old workers finish the connections they took"); len(got) != 1 || got[0].str("address") != s.addr {
		t.Fatalf("closed-listener lines %v; want one for %s", got, s.addr)
	}
	if c, err := net.Dial("tcp", s.addr); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after it left the bind", s.addr)
	}
	if code, body := getUnix(t, sock, "/"); code != 200 || body != "Hello, World!" {
		t.Fatalf("over the unix socket after the second HUP: %d %q", code, body)
	}
}

// TestHUPOntoAnAddressInUseKeepsServing: a bind the master cannot make
// leaves the configuration and the workers as they were.
func TestHUPOntoAnAddressInUseKeepsServing(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	conf := writeConf(t, dir, "gunicorn.conf.py", "bind = ['127.0.0.1:0']\nworkers = 1\n")
	s := start(t, serverOpts{bare: true, args: []string{"--chdir", appsDir, "-c", conf, "basic:hello"}})
	first := s.workerPIDs()
	writeConf(t, dir, "gunicorn.conf.py", fmt.Sprintf("bind = [%q]\nworkers = 2\n", busy.Addr().String()))
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool {
		return len(s.find("reload: cannot listen on the new addresses; keeping the current configuration and its workers")) == 1
	})
	if pids := s.workerPIDs(); !slices.Equal(pids, first) {
		t.Fatalf("workers %v after the failed rebind; want %v", pids, first)
	}
	if code, _ := s.get("/"); code != 200 {
		t.Fatalf("GET after the failed rebind: %d", code)
	}
}

// getUnix does one GET over the unix socket at path.
func getUnix(t *testing.T, path, target string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
	resp, err := client.Get("http://unix" + target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
