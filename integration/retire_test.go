package integration

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Retiring workers lose no request of a keep-alive client (issue 26,
// worker/retire.go): Python http.client connections POST numbered bodies
// across each way a worker retires, and every request is answered once.

// startRetireServer runs the retire app with -w workers and args,
// recording POST bodies in a file it returns.
func startRetireServer(t *testing.T, workers int, args ...string) (*server, string) {
	t.Helper()
	record := filepath.Join(t.TempDir(), "bodies")
	s := start(t, serverOpts{
		args:  append([]string{"-w", strconv.Itoa(workers)}, append(args, "retire:app")...),
		env:   []string{"RETIRE_LOG=" + record},
		ready: workers,
	})
	return s, record
}

// retireClients is how many keep-alive connections the tests keep busy.
const retireClients = 4

func TestRetireKeepAliveAcrossHUP(t *testing.T) {
	s, record := startRetireServer(t, 2)
	keepAliveAcrossHUPs(t, s, record)
}

// keepAliveAcrossHUPs keeps retireClients keep-alive clients busy on s,
// whose app records each request in record, through two HUPs of its
// two workers, and checks that every request was answered.
func keepAliveAcrossHUPs(t *testing.T, s *server, record string) {
	t.Helper()
	k := startKeepAliveClients(t, s.address(), record, retireClients)
	k.waitRecorded(100)
	for round := 1; round <= 2; round++ {
		s.signal(syscall.SIGHUP)
		s.waitFor(func() bool { return s.exitedWorkers(0) >= 2*round })
		k.waitRecorded(100)
	}
	k.finish(false)
}

func TestRetireKeepAliveAcrossMaxRequests(t *testing.T) {
	s, record := startRetireServer(t, 2, "--max-requests", "60", "--max-requests-jitter", "30")
	k := startKeepAliveClients(t, s.address(), record, retireClients)
	s.waitFor(func() bool { return s.exitedWorkers(0) >= 4 })
	k.waitRecorded(50)
	k.finish(false)
}

func TestRetireKeepAliveAcrossTTINAndTTOU(t *testing.T) {
	s, record := startRetireServer(t, 2)
	k := startKeepAliveClients(t, s.address(), record, retireClients)
	k.waitRecorded(100)
	s.signal(syscall.SIGTTIN)
	s.waitFor(func() bool { return len(s.find("worker ready")) >= 3 })
	k.waitRecorded(100)
	for n := 1; n <= 2; n++ {
		s.signal(syscall.SIGTTOU)
		s.waitFor(func() bool { return s.exitedWorkers(0) >= n })
		k.waitRecorded(100)
	}
	k.finish(false)
}

// TestRetireKeepAliveAcrossUSR2 upgrades the binary as
// TestLifecycleUSR2UpgradeUnderLoad does: the old workers leave on
// WINCH, then the old master on TERM, while the clients keep sending.
func TestRetireKeepAliveAcrossUSR2(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "gowsgi")
	copyBinary(t, exe)
	record := filepath.Join(dir, "bodies")
	s := start(t, serverOpts{binary: exe, args: []string{"-w", "2", "-p", filepath.Join(dir, "pid"), "retire:app"},
		env: []string{"RETIRE_LOG=" + record}, ready: 2})
	oldMaster := s.cmd.Process.Pid
	k := startKeepAliveClients(t, s.address(), record, retireClients)
	k.waitRecorded(100)
	s.signal(syscall.SIGUSR2)
	s.waitFor(func() bool { return len(s.logged("upgrade: the new master serves")) == 1 })
	k.waitRecorded(100)
	s.signal(syscall.SIGWINCH)
	s.waitFor(func() bool { return s.exitedWorkers(oldMaster) == 2 })
	k.waitRecorded(100)
	s.signal(syscall.SIGTERM)
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("old master exit code %d; want 0", code)
	}
	k.waitRecorded(100)
	k.finish(false)
}

// TestRetireKeepAliveAcrossTERM stops the server while the clients
// send: each request sent is answered; after the stop, connections are
// refused, and nothing was sent on those.
func TestRetireKeepAliveAcrossTERM(t *testing.T) {
	s, record := startRetireServer(t, 2)
	k := startKeepAliveClients(t, s.address(), record, retireClients)
	k.waitRecorded(200)
	s.signal(syscall.SIGTERM)
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d after TERM; want 0", code)
	}
	sum := k.finish(true)
	if sum.OK < 200 {
		t.Fatalf("%d requests answered; want at least the 200 before the stop", sum.OK)
	}
}

// TestRetireWrkAcrossHUPAndMaxRequests is issue 26's measurement as a
// test: wrk -t2 -c32 keep-alive across two HUPs, then across workers
// recycled by --max-requests: no socket error, no non-2xx response.
func TestRetireWrkAcrossHUPAndMaxRequests(t *testing.T) {
	t.Run("HUP", func(t *testing.T) {
		s, _ := startRetireServer(t, 2)
		w := startWrk(t, s.url("/"), 32, "")
		eventually(t, "wrk's 32 connections", func() bool { return establishedTo(t, s.address()) >= 32 })
		for round := 1; round <= 2; round++ {
			s.signal(syscall.SIGHUP)
			s.waitFor(func() bool { return s.exitedWorkers(0) >= 2*round })
		}
		w.stop()
	})
	t.Run("MaxRequests", func(t *testing.T) {
		s, _ := startRetireServer(t, 2, "--max-requests", "2000", "--max-requests-jitter", "500")
		w := startWrk(t, s.url("/"), 32, "")
		s.waitFor(func() bool { return s.exitedWorkers(0) >= 6 })
		w.stop()
	})
}

// wrkPost makes wrk send POSTs: nginx retries an idempotent request that
// failed on a cached upstream connection, so only a POST shows a lost
// one as a 502.
const wrkPost = `wrk.method = "POST"
wrk.body = "posted"
wrk.headers["Content-Type"] = "text/plain"
`

// TestRetireBehindNginxKeepAlive: nginx with "keepalive 16" upstream
// connections (examples/nginx/gowsgi-http.conf) in front, POSTs from
// wrk, across HUPs and --max-requests: no 502.
func TestRetireBehindNginxKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		hup  bool
	}{
		{name: "HUP", hup: true},
		{name: "MaxRequests", args: []string{"--max-requests", "500", "--max-requests-jitter", "100"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := startRetireServer(t, 2, append(tc.args, "--keep-alive", "75")...)
			n := startNginxHTTP(t, s.address())
			w := startWrk(t, n.url("/"), 16, wrkPost)
			eventually(t, "nginx's connections to gowsgi", func() bool { return establishedTo(t, s.address()) >= 8 })
			if tc.hup {
				for round := 1; round <= 2; round++ {
					s.signal(syscall.SIGHUP)
					s.waitFor(func() bool { return s.exitedWorkers(0) >= 2*round })
				}
			} else {
				s.waitFor(func() bool { return s.exitedWorkers(0) >= 4 })
			}
			w.stop()
		})
	}
}

// TestRetireIdleConnectionAnsweredThenClosed: once a worker retires, a
// request on a connection that was idle in keep-alive is answered, with
// Connection: close; a connection that stays silent is closed when the
// retirement's idle wait ends (half of --graceful-timeout here), before
// the master would kill the worker.
func TestRetireIdleConnectionAnsweredThenClosed(t *testing.T) {
	// One worker: two would shed a keep-alive connection to balance them.
	s, _ := startRetireServer(t, 1, "--keep-alive", "30", "--graceful-timeout", "4")
	const get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	talker, silent := dialWire(t, "tcp", s.address()), dialWire(t, "tcp", s.address())
	for _, w := range []*wireConn{talker, silent} {
		if resp, body := w.roundTrip("GET", get); resp.StatusCode != 200 || resp.Close || body != "hello" {
			t.Fatalf("before the stop: %d close=%v %q; want 200 kept alive, hello", resp.StatusCode, resp.Close, body)
		}
	}
	s.signal(syscall.SIGTERM)
	s.waitFor(func() bool {
		return len(s.logWhere(func(l logLine) bool { return l.str("role") == "worker" && l.str("message") == "graceful stop" })) == 1
	})
	resp, body := talker.roundTrip("GET", get)
	if resp.StatusCode != 200 || !resp.Close || body != "hello" {
		t.Fatalf("during the stop: %d close=%v %q; want 200 hello with Connection: close", resp.StatusCode, resp.Close, body)
	}
	if rest := talker.rest(); rest != "" {
		t.Fatalf("after the last response: %q", rest)
	}
	if !silent.closed() {
		t.Fatal("the idle connection was not closed by the retiring worker")
	}
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d; want 0", code)
	}
	if n := len(s.find("worker outlived --graceful-timeout; killing it")); n != 0 {
		t.Fatalf("%d workers killed after --graceful-timeout; want them to close their idle connections first", n)
	}
}

// TestRetiredWorkerFinishesARequestLongerThanGracefulTimeout: a worker
// a HUP retires finishes a request that runs past --graceful-timeout
// (but within --timeout), as a Gunicorn worker does: the graceful
// timeout bounds a stop of the whole server, not each recycle. It was
// cut at --graceful-timeout (curl got nothing).
func TestRetiredWorkerFinishesARequestLongerThanGracefulTimeout(t *testing.T) {
	for _, timeout := range []string{"30", "0"} { // 0: never cut, as under Gunicorn
		t.Run("--timeout "+timeout, func(t *testing.T) { retiredWorkerFinishes(t, timeout) })
	}
}

func retiredWorkerFinishes(t *testing.T, timeout string) {
	s := start(t, serverOpts{args: []string{"--graceful-timeout", "1", "--timeout", timeout, "basic:slow"}})
	first := s.workerPIDs()
	mark := filepath.Join(t.TempDir(), "in-flight")
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := client.Get(s.url("/?seconds=3&mark=" + mark))
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{body: fmt.Sprintf("%d %s", resp.StatusCode, b), err: err}
	}()
	s.waitFor(func() bool { _, err := os.Stat(mark); return err == nil })
	s.signal(syscall.SIGHUP)
	if r := <-done; r.err != nil || r.body != "200 slept" {
		t.Fatalf("the request in flight through the HUP: %q, %v; want 200 \"slept\"", r.body, r.err)
	}
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 1 && disjoint(pids, first) })
	if n := len(s.find("worker outlived --graceful-timeout; killing it")); n != 0 {
		t.Fatalf("%d workers killed at --graceful-timeout during a reload", n)
	}
}
