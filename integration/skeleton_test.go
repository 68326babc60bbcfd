package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestGetHello(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "2", "basic:hello"}, ready: 2})
	code, body := s.get("/")
	if code != 200 || body != "Hello, World!" {
		t.Fatalf("GET / = %d %q; want 200 %q", code, body, "Hello, World!")
	}
}

func TestPostEcho(t *testing.T) {
	s := start(t, serverOpts{args: []string{"basic:echo"}})
	payload := strings.Repeat("gowsgi body ", 10000)
	code, body := do(t, http.MethodPost, s.url("/echo"), payload)
	if code != 200 || body != payload {
		t.Fatalf("POST = %d, %d bytes back; want 200 and the %d bytes sent", code, len(body), len(payload))
	}
}

func TestKeepAliveHundredRequests(t *testing.T) {
	s := start(t, serverOpts{args: []string{"basic:hello"}})
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := range 100 {
		fmt.Fprintf(c, "GET /%d HTTP/1.1\r\nHost: test\r\n\r\n", i)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d on the same connection: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "Hello, World!" || resp.Close {
			t.Fatalf("request %d: %d %q close=%v", i, resp.StatusCode, b, resp.Close)
		}
	}
}

func TestKilledWorkerIsReplaced(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "2", "basic:pid"}, ready: 2})
	before := s.workerPIDs()
	victim := before[0]
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.waitFor(func() bool {
		pids := s.workerPIDs()
		return len(pids) == 2 && pids[0] != victim && pids[1] != victim
	})
	served := map[string]bool{}
	for range 50 {
		code, body := s.get("/")
		if code != 200 {
			t.Fatalf("after the respawn: %d %q", code, body)
		}
		served[body] = true
	}
	if served[fmt.Sprint(victim)] {
		t.Fatalf("the killed worker %d still answered", victim)
	}
}

func TestTermFinishesInFlightRequest(t *testing.T) {
	s := start(t, serverOpts{args: []string{"basic:slow"}})
	mark := filepath.Join(t.TempDir(), "in-flight")
	type result struct {
		code int
		body string
	}
	done := make(chan result, 1)
	go func() {
		code, body := s.get("/?seconds=1.5&mark=" + mark)
		done <- result{code, body}
	}()
	s.waitFor(func() bool { _, err := os.Stat(mark); return err == nil })
	s.signal(syscall.SIGTERM)
	r := <-done
	if r.code != 200 || r.body != "slept" {
		t.Fatalf("in-flight request during TERM = %d %q; want 200 \"slept\"", r.code, r.body)
	}
	if code := s.wait(20 * time.Second); code != 0 {
		t.Fatalf("master exit code after TERM = %d; want 0", code)
	}
}

func TestAppExceptionGives500AndWorkerLives(t *testing.T) {
	s := start(t, serverOpts{args: []string{"basic:raises"}})
	pids := s.workerPIDs()
	code, _ := s.get("/boom")
	if code != 500 {
		t.Fatalf("GET /boom = %d; want 500", code)
	}
	code, body := s.get("/fine")
	if code != 200 || body != "fine" {
		t.Fatalf("after the 500: %d %q; want 200 \"fine\"", code, body)
	}
	if now := s.workerPIDs(); len(now) != 1 || now[0] != pids[0] {
		t.Fatalf("worker pids changed from %v to %v: the worker died", pids, now)
	}
	out := s.output()
	for _, want := range []string{"Traceback", "ZeroDivisionError", "deliberate failure for the test"} {
		if !strings.Contains(out, want) {
			t.Errorf("error log lacks %q", want)
		}
	}
}

func TestMalformedRequestGets400AndClose(t *testing.T) {
	s := start(t, serverOpts{args: []string{"basic:hello"}})
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A second, valid request follows the bad one: it must never be served.
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	all, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading until close: %v", err)
	}
	if !strings.HasPrefix(string(all), "HTTP/1.1 400 ") {
		t.Fatalf("response = %q; want a 400", all)
	}
	if strings.Count(string(all), "HTTP/1.1 ") != 1 {
		t.Fatalf("more than one response after a bad request: %q", all)
	}
}
