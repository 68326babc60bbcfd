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

// TestASGIStarletteUnderRootPath: Debian's Starlette (0.26) routes on
// scope["path"] alone, without root_path, as Uvicorn before 0.26 built
// it; with the mount point in front of path, as the spec and Uvicorn
// 0.26+ put it, every route answered 404 under --root-path. Such a
// Starlette gets the path as it came, and builds its URLs with the
// prefix, as under Debian's Uvicorn.
func TestASGIStarletteUnderRootPath(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "asgi", "--root-path", "/api", "starletteapp:app"}, binary: debianBinary(t)})
	if code, body := s.get("/users/42"); code != 200 || body != "user 42" {
		t.Errorf("GET /users/42 under --root-path /api: %d %q", code, body)
	}
	want := fmt.Sprintf("/api /where http://%s/api/where http://%s/api/users/7", s.addr, s.addr)
	if code, body := s.get("/where"); code != 200 || body != want {
		t.Errorf("GET /where: %d %q; want %q", code, body, want)
	}
	if l := s.loggedContaining("routes on the path without the mount point"); len(l) != 1 {
		t.Errorf("no notice of the path sent without root_path: %v", l)
	}
}

// TestASGIAppRunsBeforeASmallUploadIsIn: a small body (Content-Length
// under 64 KiB) still on its way streams too, as under Uvicorn: the app
// refuses at once, and reads each piece as it comes (full duplex); it
// waited for the whole body before.
func TestASGIAppRunsBeforeASmallUploadIsIn(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "asgi", "asgi_raw:app"}})
	c := dial(t, s.address())
	fmt.Fprintf(c, "POST /refuse HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nfirst")
	expectRefusal(t, c)

	d := dial(t, s.address())
	br := bufio.NewReader(d)
	d.SetReadDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(d, "POST /duplex HTTP/1.1\r\nHost: t\r\nContent-Length: 15\r\n\r\naaaaa")
	resp, err := http.ReadResponse(br, nil) // the head goes out with the first echo
	if err != nil {
		t.Fatal(err)
	}
	for i, piece := range []string{"aaaaa", "bbbbb", "ccccc"} {
		if i > 0 {
			d.Write([]byte(piece)) // only once the last piece's echo is back
		}
		want := "got:" + piece + ";"
		got := make([]byte, len(want))
		if _, err := io.ReadFull(resp.Body, got); err != nil || string(got) != want {
			t.Fatalf("echo %q (%v); want %q", got, err, want)
		}
	}
	if rest, _ := io.ReadAll(resp.Body); string(rest) != "end" {
		t.Fatalf("the end of the exchange %q; want \"end\"", rest)
	}
}

// TestASGIAppRunsBeforeTheUploadIsIn: an ASGI app is called as soon as
// the head is in, with a large body streaming to receive() as it comes,
// as under Uvicorn: one that refuses the request without reading the
// body answers while the client has sent 1 KiB of 50 MiB. The body was
// read ahead first, so the 401 came only after the whole upload.
func TestASGIAppRunsBeforeTheUploadIsIn(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "asgi", "asgi_raw:app"}})
	c := dial(t, s.address())
	fmt.Fprintf(c, "POST /refuse HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", 50<<20)
	c.Write(make([]byte, 1024))
	expectRefusal(t, c)
}

// expectRefusal reads asgi_raw's /refuse answer, 401 "no", which must
// come while the request body is still to come.
func expectRefusal(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer while the body is still to come: %v", err)
	}
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 401 || string(body) != "no" {
		t.Fatalf("%d %q; want the app's 401", resp.StatusCode, body)
	}
}
