package integration

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The ASGI worker (--worker-class asgi, docs/asgi.md) with real
// frameworks: FastAPI and Starlette from Debian, through
// bin/gowsgi-debian, which embeds /usr/bin/python3.

func startFastAPI(t *testing.T, args ...string) (*server, string) {
	t.Helper()
	marks := t.TempDir()
	ready := 1
	for i, a := range args { // every worker must be serving (its lifespan started)
		if a == "-w" {
			ready, _ = strconv.Atoi(args[i+1])
		}
	}
	s := start(t, serverOpts{
		args:   append([]string{"-k", "asgi"}, append(args, "fastapiapp:app")...),
		env:    []string{"ASGI_MARKS=" + marks},
		binary: debianBinary(t),
		ready:  ready,
	})
	return s, marks
}

func TestASGIFastAPI(t *testing.T) {
	s, _ := startFastAPI(t, "-w", "2")
	if l := s.loggedContaining("ASGI event loop running"); len(l) == 0 || l[0].str("loop") != "uvloop" {
		t.Errorf("the loop in use: %v; want uvloop (python3-uvloop is installed)", l)
	}

	var hello struct{ Message string }
	if getJSON(t, s, "/hello/world?times=2", &hello); hello.Message != "hello world hello world" {
		t.Errorf("path and query parameters: %+v", hello)
	}
	var state struct{ Greeting string }
	if getJSON(t, s, "/state", &state); state.Greeting != "hello from lifespan" {
		t.Errorf("lifespan state: %+v", state)
	}

	resp, err := client.Post(s.url("/items/7"), "application/json",
		strings.NewReader(`{"name": "widget", "price": 2.5, "tags": ["a", "b"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var item struct {
		ID   int
		Item struct {
			Name  string
			Price float64
			Tags  []string
		}
		Greeting string
	}
	json.NewDecoder(resp.Body).Decode(&item)
	resp.Body.Close()
	if resp.StatusCode != 200 || item.ID != 7 || item.Item.Name != "widget" || item.Item.Price != 2.5 ||
		len(item.Item.Tags) != 2 || item.Greeting != "hello from lifespan" {
		t.Errorf("JSON body: %d %+v", resp.StatusCode, item)
	}
	if code, body := do(t, "POST", s.url("/items/7"), `{"price": "cheap"}`); code != 422 || !strings.Contains(body, "price") {
		t.Errorf("invalid JSON body: %d %q; want FastAPI's 422", code, body)
	}
	if code, _ := s.get("/nowhere"); code != 404 {
		t.Errorf("unknown route: %d", code)
	}
	if code, body := s.get("/file"); code != 200 || !strings.Contains(body, "A FastAPI app") {
		t.Errorf("FileResponse: %d %.40q", code, body)
	}
}

func TestASGIStreamingResponse(t *testing.T) {
	s, _ := startFastAPI(t)
	resp, err := client.Get(s.url("/stream?n=2000&size=100"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if te := resp.TransferEncoding; len(te) != 1 || te[0] != "chunked" {
		t.Errorf("transfer encoding %v; want chunked", te)
	}
	sc := bufio.NewScanner(resp.Body)
	n := 0
	for sc.Scan() {
		if want := fmt.Sprintf("%d:%s", n, strings.Repeat("x", 100)); sc.Text() != want {
			t.Fatalf("line %d: %.30q", n, sc.Text())
		}
		n++
	}
	if n != 2000 || sc.Err() != nil {
		t.Fatalf("%d lines, %v; want 2000", n, sc.Err())
	}
}

// TestASGIUpload sends bodies bigger than the read-ahead, with a length
// and chunked: the app reads them as a stream of http.request events.
func TestASGIUpload(t *testing.T) {
	s, _ := startFastAPI(t, "--max-buffered-body", "65536")
	data := make([]byte, 5<<20)
	rand.Read(data)
	sum := sha256.Sum256(data)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(data)
		if chunked {
			body = io.MultiReader(body) // no length known: chunked
		}
		req, _ := http.NewRequest("POST", s.url("/upload"), body)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Size   int
			Sha256 string
			Chunks int
		}
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != 200 || got.Size != len(data) || got.Sha256 != hex.EncodeToString(sum[:]) || got.Chunks < 2 {
			t.Errorf("chunked %v: %d %+v; want %d bytes in several events", chunked, resp.StatusCode, got, len(data))
		}
	}
}

// TestASGIErrorsAndBackgroundTasks: a handler that raises gets a 500
// (Starlette's own) and its traceback logged; the worker serves on; a
// background task runs after its response.
func TestASGIErrorsAndBackgroundTasks(t *testing.T) {
	s, marks := startFastAPI(t)
	if code, _ := s.get("/raise"); code != 500 {
		t.Errorf("/raise: %d; want 500", code)
	}
	s.waitFor(func() bool { return len(s.loggedContaining("ValueError: the handler failed")) > 0 })
	mark := filepath.Join(marks, "background")
	if code, body := s.get("/background?mark=" + mark); code != 200 || body != "scheduled" {
		t.Errorf("/background: %d %q", code, body)
	}
	s.waitFor(func() bool { b, _ := os.ReadFile(mark); return string(b) == "background ran\n" })
	if code, _ := s.get("/hello/again"); code != 200 {
		t.Errorf("after the errors: %d", code)
	}
}

// TestASGIDisconnect: a client that goes away mid-stream ends the app's
// streaming response (its generator is closed), and the worker logs no
// error for it.
func TestASGIDisconnect(t *testing.T) {
	s, marks := startFastAPI(t)
	conn, err := net.Dial("tcp", s.address())
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("GET /slow-stream HTTP/1.1\r\nHost: x\r\n\r\n"))
	br := bufio.NewReader(conn)
	for n := 0; n < 20; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "tick") {
			n++
		}
	}
	conn.Close()
	s.waitFor(func() bool {
		b, _ := os.ReadFile(filepath.Join(marks, "disconnected"))
		return len(b) > 0
	})
	if code, _ := s.get("/hello/again"); code != 200 {
		t.Errorf("after the disconnect: %d", code)
	}
}

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

func TestASGILifespanStartupFailure(t *testing.T) {
	for _, tc := range []struct {
		name, app, lifespan, logged string
	}{
		{"failed", "asgi_lifespan_fail:app", "auto", "cannot reach the database"},
		{"raised with --lifespan on", "asgi_lifespan_fail:raising", "on", "RuntimeError: startup exploded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, serverOpts{args: []string{"-k", "asgi", "-w", "2", "--lifespan", tc.lifespan, tc.app}, ready: -1})
			if code := s.wait(20 * time.Second); code != 3 {
				t.Fatalf("exit code %d; want 3 (a worker failed to boot)", code)
			}
			if len(s.loggedContaining(tc.logged)) == 0 {
				t.Fatalf("the app's message %q is not logged", tc.logged)
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
	k := startKeepAliveClients(t, s.address(), record, retireClients)
	k.waitRecorded(100)
	for round := 1; round <= 2; round++ {
		s.signal(syscall.SIGHUP)
		s.waitFor(func() bool { return s.exitedWorkers(0) >= 2*round })
		k.waitRecorded(100)
	}
	k.finish(false)
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

// TestASGIProtocolErrors: a plain ASGI app that breaks the protocol gets
// a 500 when nothing was sent, a cut connection when something was; the
// traceback is logged and the worker serves on.
func TestASGIProtocolErrors(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "asgi", "--body-memory-budget", "0", "--body-spill-budget", "0", "asgi_raw:app"}})
	if code, _ := s.get("/body-first"); code != 500 {
		t.Errorf("body before start: %d; want 500", code)
	}
	s.waitFor(func() bool {
		return len(s.loggedContaining("http.response.body sent before http.response.start")) == 1
	})

	// The body streams (no budget to read it ahead), so the app waits for
	// it with the ten bytes sent: the client sends it once it has them.
	w := dialWire(t, "tcp", s.address())
	w.c.Write([]byte("POST /raise-midway HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n"))
	head, err := w.br.ReadString('x')
	if err != nil || !strings.HasPrefix(head, "HTTP/1.1 200 OK\r\n") {
		t.Fatalf("raise after ten bytes: %q %v", head, err)
	}
	w.c.Write([]byte("!"))
	rest, _ := io.ReadAll(w.br) // the server cuts the connection
	if string(rest) != "xxxxxxxxx" {
		t.Errorf("raise after ten bytes: %q after the head; want the other nine bytes, then the close", rest)
	}
	s.waitFor(func() bool { return len(s.loggedContaining("RuntimeError: failed after ten bytes")) == 1 })

	if code, body := s.get("/send-after-done"); code != 200 || body != "complete" {
		t.Errorf("send after the end: %d %q", code, body)
	}
	s.waitFor(func() bool {
		return len(s.loggedContaining("http.response.body sent after the response body was complete")) == 1
	})
	if code, _ := s.get("/sleep?s=0"); code != 200 {
		t.Errorf("after the errors: %d", code)
	}
}

func TestASGIPathsendAndTrailers(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "asgi", "asgi_raw:app"}})
	src, err := os.ReadFile(filepath.Join(appsDir, "asgi_raw.py"))
	if err != nil {
		t.Fatal(err)
	}
	if code, body := s.get("/pathsend"); code != 200 || body != string(src) {
		t.Errorf("pathsend: %d, %d bytes; want the file's %d", code, len(body), len(src))
	}
	if code, body := s.get("/trailers"); code != 200 || body != "body before trailers" {
		t.Errorf("a response with trailers: %d %q", code, body)
	}
}

// TestASGIRequestTimeout: --request-timeout cancels the request's task;
// the client gets 504.
func TestASGIRequestTimeout(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "asgi", "--request-timeout", "1", "asgi_raw:app"}})
	if code, _ := s.get("/sleep?s=60"); code != 504 {
		t.Errorf("a request past --request-timeout: %d; want 504", code)
	}
	s.waitFor(func() bool { return len(s.loggedContaining("CancelledError")) > 0 })
	if code, body := s.get("/sleep?s=0"); code != 200 || body != "slept" {
		t.Errorf("the next request: %d %q", code, body)
	}
}

// TestASGIScope checks the scope a real request gets, mounted below
// SCRIPT_NAME, or below --root-path (Gunicorn's and Uvicorn's flag),
// which wins over the variable. Behind a proxy that strips the mount
// point, the request comes without it, and path and raw_path get it
// back in front, as the spec's path includes root_path (Uvicorn 0.26+).
func TestASGIScope(t *testing.T) {
	t.Run("SCRIPT_NAME", func(t *testing.T) {
		s := start(t, serverOpts{args: []string{"-k", "asgi", "asgi_raw:app"}, env: []string{"SCRIPT_NAME=/mount"}})
		checkASGIScope(t, s, "/mount/scope?a=1&b=%20")
	})
	t.Run("--root-path", func(t *testing.T) {
		s := start(t, serverOpts{args: []string{"-k", "asgi", "--root-path", "/mount/", "asgi_raw:app"},
			env: []string{"SCRIPT_NAME=/other"}})
		checkASGIScope(t, s, "/mount/scope?a=1&b=%20")
		checkASGIScope(t, s, "/scope?a=1&b=%20") // the prefix stripped in front
	})
}

func checkASGIScope(t *testing.T, s *server, target string) {
	t.Helper()
	var sc map[string]any
	getJSON(t, s, target, &sc)
	want := map[string]any{
		"type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
		"path": "/mount/scope", "raw_path": "/mount/scope", "query_string": "a=1&b=%20", "root_path": "/mount",
	}
	for k, v := range want {
		if sc[k] != v {
			t.Errorf("scope[%q] = %v; want %v", k, sc[k], v)
		}
	}
	if c, ok := sc["client"].([]any); !ok || c[0] != "127.0.0.1" {
		t.Errorf("client %v", sc["client"])
	}
	if h := fmt.Sprint(sc["headers"]); !strings.Contains(h, "[host test.example:8080]") {
		t.Errorf("headers %v", h)
	}
}

// TestASGIConcurrentRequests: one worker with its one Python thread
// serves many requests at once on its event loop: each waits for all
// the others to arrive.
func TestASGIConcurrentRequests(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "asgi", "--threads", "1", "asgi_raw:app"}})
	const n = 50
	errs := make(chan string, n)
	for range n {
		go func() {
			resp, err := client.Get(s.url("/gather?n=50"))
			if err != nil {
				errs <- err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			errs <- string(body)
		}()
	}
	for range n {
		if got := <-errs; got != "together" {
			t.Fatalf("a request: %q", got)
		}
	}
}

// TestASGIUvicornWorkerCommandLine: the Gunicorn + Uvicorn command line
// runs unchanged, with a gunicorn.conf.py naming Uvicorn's class and
// Gunicorn's ASGI settings; and --preload.
func TestASGIUvicornWorkerCommandLine(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "gunicorn.conf.py")
	os.WriteFile(conf, []byte("worker_class = \"uvicorn_worker.UvicornWorker\"\nasgi_lifespan = \"on\"\nasgi_loop = \"asyncio\"\n"), 0o644)
	for _, args := range [][]string{
		{"-k", "uvicorn.workers.UvicornWorker", "--access-logfile", "-", "asgi_raw:app"},
		{"-c", conf, "--preload", "asgi_raw:app"},
	} {
		s := start(t, serverOpts{args: args})
		if code, body := s.get("/sleep?s=0"); code != 200 || body != "slept" {
			t.Errorf("%v: %d %q", args, code, body)
		}
		if args[0] == "-k" {
			s.waitFor(func() bool { return strings.Contains(s.output(), `"GET /sleep?s=0 HTTP/1.1" 200`) })
		} else if l := s.loggedContaining("ASGI event loop running"); len(l) != 1 || l[0].str("loop") != "asyncio" || l[0].str("lifespan") != "on" {
			t.Errorf("%v: %v", args, l)
		}
	}
}

func TestASGIStarlette(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "asgi", "starletteapp:app"}, binary: debianBinary(t)})
	if code, body := s.get("/"); code != 200 || body != "starlette home, started: yes" {
		t.Errorf("GET /: %d %q", code, body)
	}
	if code, body := s.get("/users/42"); code != 200 || body != "user 42" {
		t.Errorf("a mounted route with a path parameter: %d %q", code, body)
	}
	if code, body := do(t, "POST", s.url("/echo?x=1"), `{"a": [1, 2]}`); code != 200 ||
		body != `{"you sent":{"a":[1,2]},"query":{"x":"1"}}` {
		t.Errorf("POST /echo: %d %q", code, body)
	}
}
