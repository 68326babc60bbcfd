package integration

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the gowsgi built once by TestMain.
var binary string

// appsDir holds the test apps (testdata/apps/*.py).
var appsDir string

func TestMain(m *testing.M) {
	root, err := filepath.Abs("..")
	if err != nil {
		panic(err)
	}
	appsDir = filepath.Join(root, "integration", "testdata", "apps")
	binary = filepath.Join(root, "bin", "gowsgi")
	// GOWSGI_BINARY: a gowsgi already built for another CPython (make
	// test's per-version smoke runs, pythons_test.go); a relative path
	// is relative to the checkout.
	if b := os.Getenv("GOWSGI_BINARY"); b != "" {
		binary = b
		if !filepath.IsAbs(b) {
			binary = filepath.Join(root, b)
		}
		os.Exit(m.Run())
	}
	build := exec.Command("make", "-C", root, "--no-print-directory", "build")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "integration: make build failed:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// logLine is one JSON line of the error log.
type logLine map[string]any

func (l logLine) str(k string) string {
	s, _ := l[k].(string)
	return s
}

func (l logLine) num(k string) int {
	f, _ := l[k].(float64)
	return int(f)
}

// server is one running gowsgi master with its captured output.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string // the first TCP listener, "127.0.0.1:PORT"

	mu     sync.Mutex
	stderr bytes.Buffer
	lines  []logLine
	exited chan struct{}
	state  *os.ProcessState
}

type serverOpts struct {
	args []string // after the defaults
	env  []string // extra KEY=VALUE
	// ready is how many "worker ready" lines to wait for (default 1);
	// -1 waits for nothing but the process starting.
	ready int
	// bare leaves out the default --chdir and -b: args are all there is.
	bare bool
	// binary replaces bin/gowsgi.
	binary string
	// dir is the working directory (default: the test's).
	dir string
}

// start runs bin/gowsgi --chdir testdata/apps -b 127.0.0.1:0 args... in its
// own process group, waits for the workers, and stops it at cleanup.
func start(t *testing.T, o serverOpts) *server {
	t.Helper()
	args := append([]string{"--chdir", appsDir, "-b", "127.0.0.1:0"}, o.args...)
	if o.bare {
		args = o.args
	}
	s := &server{t: t, exited: make(chan struct{})}
	s.cmd = exec.Command(cmp.Or(o.binary, binary), args...)
	s.cmd.Env = append(os.Environ(), o.env...)
	s.cmd.Dir = o.dir
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// An os.Pipe rather than an io.Pipe: Wait returns when the master
	// exits even if a process it started (the new master of a USR2
	// upgrade) still writes to the pipe.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = pw
	s.cmd.Stdout = pw
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	collected := make(chan struct{})
	go func() {
		s.collect(pr)
		pr.Close()
		close(collected)
	}()
	go func() {
		s.cmd.Wait()
		s.mu.Lock()
		s.state = s.cmd.ProcessState
		s.mu.Unlock()
		select { // the last lines of the master and its workers
		case <-collected:
		case <-time.After(time.Second):
		}
		close(s.exited)
	}()
	t.Cleanup(func() {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
		if t.Failed() {
			t.Logf("gowsgi output:\n%s", s.output())
		}
	})
	if o.ready == 0 {
		o.ready = 1
	}
	if o.ready > 0 {
		s.waitFor(func() bool { return s.address() != "" && len(s.find("worker ready")) >= o.ready })
	}
	return s
}

func (s *server) collect(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<22)
	for sc.Scan() {
		line := sc.Bytes()
		s.mu.Lock()
		s.stderr.Write(line)
		s.stderr.WriteByte('\n')
		var l logLine
		if json.Unmarshal(line, &l) == nil {
			s.lines = append(s.lines, l)
			if l.str("message") == "listening" && s.addr == "" && !strings.HasPrefix(l.str("address"), "unix:") {
				s.addr = l.str("address")
			}
		}
		s.mu.Unlock()
	}
}

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// find returns the log lines with this message.
func (s *server) find(msg string) []logLine {
	return s.linesWhere(func(m string) bool { return m == msg })
}

// linesWhere returns the log lines whose message satisfies match.
func (s *server) linesWhere(match func(message string) bool) []logLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []logLine
	for _, l := range s.lines {
		if match(l.str("message")) {
			out = append(out, l)
		}
	}
	return out
}

// waitFor polls cond until it holds, failing
// the test after 15 s or when the server exits first.
func (s *server) waitFor(cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		select {
		case <-s.exited:
			if cond() {
				return
			}
			s.t.Fatalf("gowsgi exited before the condition held")
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for gowsgi")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) address() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// wait waits for the master to exit and returns its exit code.
func (s *server) wait(timeout time.Duration) int {
	s.t.Helper()
	select {
	case <-s.exited:
	case <-time.After(timeout):
		s.t.Fatalf("gowsgi did not exit within %v", timeout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.ExitCode()
}

func (s *server) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

// workerPIDs are the pids of workers that reported ready and have not
// been logged as exited.
func (s *server) workerPIDs() []int {
	exited := map[int]bool{}
	for _, l := range s.find("worker exited") {
		exited[l.num("worker_pid")] = true
	}
	var pids []int
	for _, l := range s.find("worker ready") {
		if p := l.num("worker_pid"); !exited[p] {
			pids = append(pids, p)
		}
	}
	return pids
}

func (s *server) url(path string) string { return "http://" + s.addr + path }

// get does one request on a fresh connection and returns status and body.
func (s *server) get(path string) (int, string) {
	s.t.Helper()
	return do(s.t, http.MethodGet, s.url(path), "")
}

var client = &http.Client{
	Timeout:   20 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp.StatusCode, string(b)
}
