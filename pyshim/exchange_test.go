package pyshim

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// testKeys are the well-known environ keys of these tests (ids 1..n).
var testKeys = []string{"REQUEST_METHOD", "PATH_INFO"}

func TestMain(m *testing.M) {
	runtime.LockOSThread()
	if err := Init(Options{Program: os.Args[0], EnvironKeys: testKeys}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir, _ := filepath.Abs("testdata")
	if _, err := LoadApp("shimapps:app", []string{dir}, false, AppWSGI); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ReleaseMain()
	runtime.UnlockOSThread()
	os.Exit(m.Run())
}

// environ encodes method and path with ids and extra literal keys.
func environ(method, path string, extra ...string) []byte {
	var b []byte
	put := func(id byte, key, val string) {
		b = append(b, id)
		if id == 0 {
			b = binary.NativeEndian.AppendUint16(b, uint16(len(key)))
			b = append(b, key...)
		}
		b = binary.NativeEndian.AppendUint32(b, uint32(len(val)))
		b = append(b, val...)
	}
	put(1, "", method)
	put(2, "", path)
	for i := 0; i < len(extra); i += 2 {
		put(0, extra[i], extra[i+1])
	}
	return b
}

// run drives one exchange to the end and returns status, headers and body.
func run(t *testing.T, x *Exchange, path string, body []byte) (status string, hdrs []string, out string, failed bool, tb string) {
	t.Helper()
	return runEnv(t, x, environ("GET", path), body)
}

// runEnv is run with an environ of the caller's; a file region is read
// with pread, as the worker's sendfile would.
func runEnv(t *testing.T, x *Exchange, env []byte, body []byte) (status string, hdrs []string, out string, failed bool, tb string) {
	t.Helper()
	step := x.Call(env, Body{Data: body})
	var sb strings.Builder
	for {
		if step.HasHead {
			status = string(step.Status)
			for k, v := range step.Headers() {
				hdrs = append(hdrs, string(k)+": "+string(v))
			}
		}
		sb.Write(step.Body)
		sb.Write(step.Big)
		if step.File.Len > 0 {
			buf := make([]byte, step.File.Len)
			if n, err := syscall.Pread(step.File.Fd, buf, step.File.Offset); err != nil || int64(n) != step.File.Len {
				t.Fatalf("pread of the file region %+v: %d, %v", step.File, n, err)
			}
			sb.Write(buf)
		}
		if step.Failed {
			return status, hdrs, sb.String(), true, step.Traceback
		}
		if step.Done {
			return status, hdrs, sb.String(), false, step.Traceback
		}
		step = x.Next()
	}
}

func TestHello(t *testing.T) {
	x := NewExchange(0)
	status, hdrs, body, failed, _ := run(t, x, "/hello", nil)
	if failed || status != "200 OK" || body != "hello" || len(hdrs) != 1 || hdrs[0] != "Content-Type: text/plain" {
		t.Fatalf("got %q %q %q failed=%v", status, hdrs, body, failed)
	}
	if x.Open() {
		t.Fatal("a finished exchange is still open")
	}
	step := x.Call(environ("GET", "/hello"), Body{})
	pairs := step.AppendHeaders(nil)
	if len(pairs) != 1 || string(pairs[0][0]) != "Content-Type" || string(pairs[0][1]) != "text/plain" {
		t.Fatalf("AppendHeaders = %q; want the one Content-Type header", pairs)
	}
}

func TestEnvironReachesApp(t *testing.T) {
	_, _, body, failed, tb := run(t, NewExchange(0), "/environ", []byte("payload"))
	if failed {
		t.Fatal(tb)
	}
	for _, want := range []string{"'PATH_INFO'", "'wsgi.input'", "'wsgi.errors'", "'wsgi.file_wrapper'", "'GET'", "b'payload'", "(1, 0)", "False)"} {
		if !strings.Contains(body, want) {
			t.Errorf("environ %s lacks %s", body, want)
		}
	}
}

func TestBodyFromFile(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "body")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString("spilled upload")
	f.Seek(0, 0)
	step := NewExchange(0).Call(environ("GET", "/environ"), Body{File: f, Data: []byte("ignored")})
	if step.Failed || !strings.Contains(string(step.Body), "b'spilled upload'") {
		t.Fatalf("wsgi.input from a file: failed=%v %s %s", step.Failed, step.Body, step.Traceback)
	}
}

func TestStreamingBigChunksAndCloseOnce(t *testing.T) {
	x := NewExchange(0)
	_, _, before, _, _ := run(t, x, "/closed", nil)
	_, _, body, failed, tb := run(t, x, "/stream", nil)
	if failed {
		t.Fatal(tb)
	}
	if want := strings.Repeat("a", 10) + strings.Repeat("b", 100000) + strings.Repeat("c", 10); body != want {
		t.Fatalf("streamed body has %d bytes; want %d", len(body), len(want))
	}
	_, _, after, _, _ := run(t, x, "/closed", nil)
	if n0, n1 := atoi(t, before), atoi(t, after); n1 != n0+1 {
		t.Fatalf("close() calls went from %d to %d; want exactly one more", n0, n1)
	}
}

func TestAbortCallsClose(t *testing.T) {
	x := NewExchange(0)
	_, _, before, _, _ := run(t, x, "/closed", nil)
	step := x.Call(environ("GET", "/stream"), Body{})
	if step.Done || !x.Open() {
		t.Fatalf("expected an open streaming response, got %+v", step)
	}
	x.Abort()
	if x.Open() {
		t.Fatal("still open after Abort")
	}
	_, _, after, _, _ := run(t, x, "/closed", nil)
	if atoi(t, after) != atoi(t, before)+1 {
		t.Fatalf("Abort did not call close() exactly once: %s → %s", before, after)
	}
}

func TestFailureMidStreamClosesAndReports(t *testing.T) {
	x := NewExchange(0)
	_, _, before, _, _ := run(t, x, "/closed", nil)
	_, _, _, failed, tb := run(t, x, "/fail-mid", nil)
	if !failed || !strings.Contains(tb, "failed mid-stream") {
		t.Fatalf("failed=%v traceback=%q", failed, tb)
	}
	_, _, after, _, _ := run(t, x, "/closed", nil)
	if atoi(t, after) != atoi(t, before)+1 {
		t.Fatalf("close() not called once after a failure: %s → %s", before, after)
	}
}

func TestStartResponseRules(t *testing.T) {
	x := NewExchange(0)
	tests := []struct {
		path, status, body, traceback string
		failed                        bool
		header                        string
	}{
		{path: "/exc-info-before-body", status: "500 Oops", body: "replaced", header: "X-Second: 1"},
		{path: "/twice", failed: true, traceback: "second time without exc_info"},
		{path: "/str-body", failed: true, traceback: "must produce bytes, not str"},
		{path: "/write", status: "200 OK", body: "from-write,from-iter"},
		{path: "/latin1", status: "200 OK", header: "X-Name: caf\xe9"},
		{path: "/not-latin1", failed: true, traceback: "not latin-1"},
		{path: "/no-start", failed: true, traceback: "did not call start_response"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, hdrs, body, failed, tb := run(t, x, tt.path, nil)
			if failed != tt.failed || !strings.Contains(tb, tt.traceback) {
				t.Fatalf("failed=%v traceback=%q; want failed=%v mentioning %q", failed, tb, tt.failed, tt.traceback)
			}
			if tt.failed {
				return
			}
			if status != tt.status || body != tt.body {
				t.Fatalf("got %q %q; want %q %q", status, body, tt.status, tt.body)
			}
			if tt.header != "" && (len(hdrs) != 1 || hdrs[0] != tt.header) {
				t.Fatalf("headers %q; want only %q", hdrs, tt.header)
			}
		})
	}
}

// TestNoLeak runs many exchanges of every kind and checks that the number
// of allocated Python memory blocks stays flat.
func TestNoLeak(t *testing.T) {
	// One OS thread: each new thread gets its own cached thread state,
	// whose blocks would blur the count.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	x := NewExchange(0)
	defer x.Close()
	x.SetErrors(func(string) {})
	paths := []string{"/hello", "/environ", "/stream", "/fail-mid", "/write", "/twice", "/str-body",
		"/exc-info-before-body", "/echo", "/errors", "/file-bytesio"}
	for range 50 { // warm up caches and free lists
		for _, p := range paths {
			run(t, x, p, []byte("b"))
		}
	}
	_, _, before, _, _ := run(t, x, "/objects", nil)
	for range 2000 {
		for _, p := range paths {
			run(t, x, p, []byte("b"))
		}
	}
	_, _, after, _, _ := run(t, x, "/objects", nil)
	// A leak of one block in any one kind of exchange would add 2000.
	// Caches grow too, but sublinearly: formatting the traceback of an
	// error raised in C code adds a few hundred blocks at most, however
	// many times it runs (measured: ~100 after 3,000, ~200 after 30,000).
	if n0, n1 := atoi(t, before), atoi(t, after); n1 > n0+1000 {
		t.Fatalf("allocated Python blocks grew from %d to %d over %d exchanges", n0, n1, 2000*len(paths))
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

func BenchmarkCallHello(b *testing.B) {
	x := NewExchange(0)
	env := environ("GET", "/hello")
	b.ReportAllocs()
	for b.Loop() {
		x.Call(env, Body{})
	}
}

func BenchmarkCallEcho(b *testing.B) {
	for _, size := range []int{0, 1 << 10, 256 << 10} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			x := NewExchange(0)
			env := environ("POST", "/echo")
			body := Body{Data: []byte(strings.Repeat("x", size))}
			b.SetBytes(int64(size))
			for b.Loop() {
				for step := x.Call(env, body); !step.Done; step = x.Next() {
				}
			}
		})
	}
}

// BenchmarkCallUnreadBody: a body the app never reads costs nothing to
// expose as wsgi.input.
func BenchmarkCallUnreadBody(b *testing.B) {
	x := NewExchange(0)
	env := environ("POST", "/hello")
	body := Body{Data: []byte(strings.Repeat("x", 256<<10))}
	for b.Loop() {
		x.Call(env, body)
	}
}

// TestReferencesDropped: after an exchange, nothing it touched keeps a
// reference: not the iterable, not start_response, not the chunks, and
// the Exchange's wsgi.errors stream is back to its own references.
func TestReferencesDropped(t *testing.T) {
	x := NewExchange(0)
	defer x.Close()
	if _, _, body, failed, tb := run(t, x, "/refs", nil); failed || body != strings.Repeat("a chunk every exchange returns", 2) {
		t.Fatalf("/refs: %q %s", body, tb)
	}
	_, _, got, failed, tb := run(t, x, "/refs-check", nil)
	if want := "(0, 2, 2, 0)"; failed || got != want {
		t.Fatalf("(chunk refs gained, iterable refs, start_response refs, errors refs gained) = %s; want %s %s", got, want, tb)
	}
}

// TestGeneratorBlockNotDelayed: a block the app's iterator produced goes
// to Go before the iterator is asked for the next one, which may take
// any time (PEP 3333 "Buffering and Streaming").
func TestGeneratorBlockNotDelayed(t *testing.T) {
	x, probe := NewExchange(0), NewExchange(0)
	defer x.Close()
	defer probe.Close()
	step := x.Call(environ("GET", "/generator"), Body{})
	if step.Failed || !step.HasHead || string(step.Body) != "first" || step.Done {
		t.Fatalf("first step %q done=%v; want the first block alone, the response open", step.Body, step.Done)
	}
	if _, _, n, _, _ := run(t, probe, "/advanced", nil); n != "0" {
		t.Fatalf("the generator was asked for its next block before the first was handed over")
	}
	var rest []byte
	for !step.Done {
		step = x.Next()
		rest = append(rest, step.Body...)
	}
	if string(rest) != "second" || step.Failed {
		t.Fatalf("rest %q failed=%v", rest, step.Failed)
	}
}

// The client socket offered as environ["gunicorn.socket"]: an app that
// uses it speaks alone (Taken, and StopIteration is no error), one that
// only looks it up answers as usual and its duplicate is closed.
func TestOfferedSocket(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	syscall.SetNonblock(fds[0], true) // as the engine's sockets are
	x := NewExchange(0)
	defer x.Close()
	x.SetErrors(func(string) {})

	if _, _, out, _, _ := run(t, x, "/socket-absent", nil); out != "False" {
		t.Errorf("not offered: gunicorn.socket in environ is %s", out)
	}
	open := openFDs(t)
	x.OfferSocket(fds[0])
	step := x.Call(environ("GET", "/socket-look"), Body{})
	if step.Taken || !step.Done || string(step.Body) != "looked" {
		t.Errorf("looked up only: %+v", step)
	}
	if n := openFDs(t); n != open {
		t.Errorf("%d descriptors open after the exchange, %d before: the duplicate was not closed", n, open)
	}
	for how, wantTB := range map[string]string{"stop": "", "raise": "ValueError: after the session", "return": ""} {
		x.OfferSocket(fds[0])
		step := x.Call(environ("GET", "/socket-"+how), Body{})
		if !step.Taken || !step.Done || step.Failed {
			t.Errorf("%s: %+v; want Taken and Done", how, step)
		}
		if wantTB == "" && step.Traceback != "" || !strings.Contains(step.Traceback, wantTB) {
			t.Errorf("%s: traceback %q; want %q", how, step.Traceback, wantTB)
		}
		buf := make([]byte, 64)
		if n, _ := syscall.Read(fds[1], buf); string(buf[:n]) != "spoken by the app" {
			t.Errorf("%s: the peer read %q", how, buf[:n])
		}
	}
	// Python made the socket blocking, as Gunicorn's is; the offer says
	// the caller makes it non-blocking again if it must.
	if flags, _ := fcntl(fds[0]); flags&syscall.O_NONBLOCK != 0 {
		t.Errorf("the offered socket was left non-blocking")
	}

	// Neither kind of exchange leaks a Python object or a descriptor.
	runtime.LockOSThread() // one thread state: see TestNoLeak
	defer runtime.UnlockOSThread()
	drain := make([]byte, 64)
	offered := func() {
		for _, how := range []string{"look", "stop"} {
			x.OfferSocket(fds[0])
			x.Call(environ("GET", "/socket-"+how), Body{})
		}
		syscall.Read(fds[1], drain)
	}
	for range 50 {
		offered()
	}
	_, _, before, _, _ := run(t, x, "/objects", nil)
	open = openFDs(t)
	for range 2000 {
		offered()
	}
	_, _, after, _, _ := run(t, x, "/objects", nil)
	if n0, n1 := atoi(t, before), atoi(t, after); n1 > n0+1000 {
		t.Errorf("allocated Python blocks grew from %d to %d over 4,000 offered sockets", n0, n1)
	}
	if n := openFDs(t); n != open {
		t.Errorf("%d descriptors open after 4,000 offered sockets, %d before", n, open)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func fcntl(fd int) (int, error) {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFL, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}
