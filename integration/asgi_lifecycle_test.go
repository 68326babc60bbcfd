package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The ASGI worker's life (docs/asgi.md): the lifespan protocol at start
// and stop, what a graceful stop waits for, --timeout on a blocked event
// loop, and retirement without lost requests.

// TestASGILifespanShutdownOnTERM: TERM runs the lifespan shutdown in
// every worker after its last request.
func TestASGILifespanShutdownOnTERM(t *testing.T) {
	s, marks := startFastAPI(t, "-w", "2")
	s.signal(syscall.SIGTERM)
	if code := s.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	b, _ := os.ReadFile(filepath.Join(marks, "shutdown"))
	if n := strings.Count(string(b), "shutdown"); n != 2 {
		t.Fatalf("lifespan shutdown ran %d times; want 2 (one per worker): %q", n, b)
	}
}

// TestASGIStopWaitsForBackgroundTasks: a graceful stop lets a
// background task that runs after its response finish, then runs the
// lifespan shutdown, as Uvicorn does; it was cancelled.
func TestASGIStopWaitsForBackgroundTasks(t *testing.T) {
	s, marks := startFastAPI(t)
	goFile := filepath.Join(t.TempDir(), "go")
	if code, body := s.get("/background-until?go=" + goFile); code != 200 || body != "scheduled" {
		t.Fatalf("/background-until: %d %q", code, body)
	}
	order := filepath.Join(marks, "shutdown")
	s.waitFor(func() bool { b, _ := os.ReadFile(order); return len(b) > 0 })
	pid := s.workerPIDs()[0]
	s.signal(syscall.SIGTERM)
	s.waitFor(func() bool {
		return len(s.loggedContaining("waiting for the ASGI app's calls still running")) > 0
	})
	if err := os.WriteFile(goFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	b, _ := os.ReadFile(order)
	want := fmt.Sprintf("background started\nbackground finished\nshutdown %d\n", pid)
	if string(b) != want {
		t.Fatalf("marks %q; want %q (the task finished, then the lifespan shutdown)", b, want)
	}
}

// TestASGIQuickStopRunsTheLifespanShutdown: a quick stop (QUIT, INT) does
// not wait --graceful-timeout for a background task: the task is
// cancelled and the lifespan shutdown runs within the master's 2 s. The
// worker waited for the task and was killed, without the shutdown.
func TestASGIQuickStopRunsTheLifespanShutdown(t *testing.T) {
	s, marks := startFastAPI(t)
	goFile := filepath.Join(t.TempDir(), "go") // never written: the task waits
	if code, body := s.get("/background-until?go=" + goFile); code != 200 || body != "scheduled" {
		t.Fatalf("/background-until: %d %q", code, body)
	}
	order := filepath.Join(marks, "shutdown")
	s.waitFor(func() bool { b, _ := os.ReadFile(order); return len(b) > 0 })
	pid := s.workerPIDs()[0]
	s.signal(syscall.SIGQUIT)
	if code := s.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if b, _ := os.ReadFile(order); !strings.HasSuffix(string(b), fmt.Sprintf("shutdown %d\n", pid)) {
		t.Fatalf("marks %q; want the lifespan shutdown after the cancelled task", b)
	}
	for _, l := range s.find("worker exited") {
		if l.num("worker_pid") == pid && l.str("signal") != "" {
			t.Fatalf("the worker was killed (%s) instead of stopping", l.str("signal"))
		}
	}
}

func TestASGILifespanStartupFailure(t *testing.T) {
	for _, tc := range []struct {
		name, app, lifespan, logged string
	}{
		{"failed", "asgi_lifespan_fail:app", "auto", "cannot reach the database"},
		{"raised with --lifespan on", "asgi_lifespan_fail:raising", "on", "RuntimeError: startup exploded"},
		{"failed, then raised (Starlette)", "asgi_lifespan_fail:failed_then_raises", "auto", "Traceback: cannot open the pool"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, serverOpts{args: []string{"-k", "asgi", "-w", "2", "--lifespan", tc.lifespan, tc.app}, ready: -1})
			if code := s.wait(20 * time.Second); code != 3 {
				t.Fatalf("exit code %d; want 3 (a worker failed to boot)", code)
			}
			if len(s.loggedContaining(tc.logged)) == 0 {
				t.Fatalf("the app's message %q is not logged", tc.logged)
			}
			if l := s.loggedContaining("raised after startup"); len(l) != 0 {
				t.Errorf("a failed startup logged as an exception after startup: %v", l)
			}
		})
	}
	t.Run("raised with --lifespan auto", func(t *testing.T) {
		s := start(t, serverOpts{args: []string{"-k", "asgi", "asgi_lifespan_fail:raising"}})
		if code, body := s.get("/"); code != 200 || body != "served anyway" {
			t.Fatalf("%d %q", code, body)
		}
	})
}

// TestASGITimeoutCatchesABlockedLoop: a handler that spins on the loop
// is caught by --timeout as a stuck WSGI call is: the master's log and
// the worker's name the request, the stack of every thread is logged
// with the loop's thread marked, and the worker is replaced. So is one
// that spins in a task its task group started (as Starlette's
// BaseHTTPMiddleware runs endpoints): it is named as the request's own.
func TestASGITimeoutCatchesABlockedLoop(t *testing.T) {
	for _, tc := range []struct{ path, frame string }{
		{"/block-loop", "in block_loop\n"},
		{"/block-loop-in-task-group", "in spin_in_task\n"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			s, _ := startFastAPI(t, "--timeout", "2")
			victim := s.workerPIDs()[0]
			go func() {
				if resp, err := client.Get(s.url(tc.path)); err == nil {
					resp.Body.Close()
				}
			}()
			// The frame's line is the loop's either line, where the dump found it.
			dump := s.stuckDump(victim, tc.path, tc.frame)
			if call := dump.str("call"); call != callInPython {
				t.Errorf("the loop's thread: %q; want %q", call, callInPython)
			}
			master := s.loggedContaining("worker timeout: a request outlived --timeout")
			if len(master) != 1 || master[0].str("method") != "GET" || master[0].str("path") != tc.path {
				t.Errorf("the master's timeout line: %v; want one naming GET %s", master, tc.path)
			}
			s.waitFor(func() bool { return len(s.find("worker ready")) >= 2 })
			if code, _ := s.get("/hello/again"); code != 200 {
				t.Fatalf("the replacement worker: %d", code)
			}
		})
	}
}

// TestASGITimeoutNamesABlockedWebSocket: a WebSocket session that spins
// on the loop is named as an HTTP request is, though after its 101 a
// session holds no slot.
func TestASGITimeoutNamesABlockedWebSocket(t *testing.T) {
	s, _ := startFastAPI(t, "--timeout", "2")
	victim := s.workerPIDs()[0]
	w := dialWire(t, "tcp", s.address())
	w.c.Write([]byte("GET /ws-block-loop?room=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	if line, err := w.br.ReadString('\n'); err != nil || line != "HTTP/1.1 101 Switching Protocols\r\n" {
		t.Fatalf("handshake: %q %v", line, err)
	}
	w.c.Write(maskedFrame(0x1, []byte("spin")))
	s.stuckDump(victim, "/ws-block-loop?room=1", "in ws_block_loop\n")
	master := s.loggedContaining("worker timeout: a request outlived --timeout")
	if len(master) != 1 || master[0].str("method") != "GET" || master[0].str("path") != "/ws-block-loop?room=1" {
		t.Errorf("the master's timeout line: %v; want one naming GET /ws-block-loop?room=1", master)
	}
}

// The retirement tests of retire_test.go, with the retire app as an
// ASGI app: no keep-alive request is lost across HUP and TERM.
func startASGIRetireServer(t *testing.T) (*server, string) {
	t.Helper()
	record := filepath.Join(t.TempDir(), "bodies")
	s := start(t, serverOpts{args: []string{"-k", "asgi", "-w", "2", "retire_asgi:app"},
		env: []string{"RETIRE_LOG=" + record}, ready: 2})
	return s, record
}

func TestASGIRetireKeepAliveAcrossHUP(t *testing.T) {
	s, record := startASGIRetireServer(t)
	keepAliveAcrossHUPs(t, s, record) // retire_test.go
}

func TestASGIRetireKeepAliveAcrossTERM(t *testing.T) {
	s, record := startASGIRetireServer(t)
	k := startKeepAliveClients(t, s.address(), record, retireClients)
	k.waitRecorded(200)
	s.signal(syscall.SIGTERM)
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d after TERM; want 0", code)
	}
	if sum := k.finish(true); sum.OK < 200 {
		t.Fatalf("%d requests answered; want at least the 200 before the stop", sum.OK)
	}
}

// TestASGIImportSeesTheServingLoop: a module that calls
// asyncio.get_event_loop() at import gets the loop that serves it, as
// under Uvicorn, which imports the app inside its running loop, whether
// the ASGI worker class is named or found from the app, and when the
// app installs an event loop policy of its own first (uvloop.install()).
// It got a loop that never ran: run_in_executor on it raised in every
// request.
func TestASGIImportSeesTheServingLoop(t *testing.T) {
	for _, args := range [][]string{{"-k", "asgi", "asgi_importloop:app"}, {"asgi_importloop:app"},
		{"-k", "asgi", "asgi_importloop_policy:app"}} {
		s := start(t, serverOpts{args: args})
		if code, body := s.get("/"); code != 200 || body != "same loop True, executor 3" {
			t.Errorf("%v: GET /: %d %q; want the import's loop serving", args, code, body)
		}
	}
}

// TestASGISubprocessOnUvloop: asyncio.create_subprocess_exec(...)
// .communicate() returns under uvloop, whose child watcher is the
// SIGCHLD handler it installs; the worker took SIGCHLD back for Go and
// the call never returned (the app's wait timed out, a 500), once the
// worker's check of its handlers (every second) had run: the twenty
// children take 0.1 s each, so it runs among them. Many children, so
// their SIGCHLDs land on Go's threads too.
func TestASGISubprocessOnUvloop(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "asgi", "--loop", "uvloop", "--threads", "4", "asgi_subprocess:app"},
		binary: debianBinary(t)})
	for i := range 20 {
		if code, body := s.get("/"); code != 200 || body != "hi\nrc=0" {
			t.Fatalf("request %d: %d %q; want the subprocess's output", i, code, body)
		}
	}
	if l := s.loggedContaining("the app installed a handler for a signal gowsgi needs"); len(l) != 0 {
		t.Errorf("uvloop's SIGCHLD handler was taken back: %v", l)
	}
}
