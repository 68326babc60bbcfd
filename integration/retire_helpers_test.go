package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// keepAliveClients runs testdata/keepalive_client.py: Python http.client
// connections kept alive, each POSTing numbered bodies to the retire app
// (testdata/apps/retire.py), which appends every body it sees to record.
type keepAliveClients struct {
	t        *testing.T
	cmd      *exec.Cmd
	out      bytes.Buffer
	stopFile string
	record   string
	exited   chan struct{}
}

// clientSummary is the client's JSON report.
type clientSummary struct {
	OK         int      `json:"ok"`
	Refused    int      `json:"refused"`
	Reconnects int      `json:"reconnects"`
	Failures   []string `json:"failures"`
	Answered   []string `json:"answered"`
}

func startKeepAliveClients(t *testing.T, addr, record string, threads int) *keepAliveClients {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	k := &keepAliveClients{t: t, stopFile: filepath.Join(t.TempDir(), "stop"), record: record, exited: make(chan struct{})}
	k.cmd = exec.Command("/usr/bin/python3", filepath.Join(appsDir, "..", "keepalive_client.py"),
		host, port, strconv.Itoa(threads), k.stopFile, "c")
	k.cmd.Stdout = &k.out
	k.cmd.Stderr = os.Stderr
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { k.cmd.Wait(); close(k.exited) }()
	t.Cleanup(func() {
		k.cmd.Process.Kill()
		<-k.exited
	})
	return k
}

// recorded is how many bodies the app has seen.
func (k *keepAliveClients) recorded() int {
	b, _ := os.ReadFile(k.record)
	return bytes.Count(b, []byte("\n"))
}

// waitRecorded waits until the app has seen n more bodies than now.
func (k *keepAliveClients) waitRecorded(n int) {
	k.t.Helper()
	want := k.recorded() + n
	eventually(k.t, fmt.Sprintf("the app to see %d request bodies", want), func() bool {
		select {
		case <-k.exited:
			k.t.Fatalf("the keep-alive clients exited early: %s", k.out.String())
		default:
		}
		return k.recorded() >= want
	})
}

// finish stops the clients and checks that no request was lost: none
// failed, each answered body was seen by the app exactly once, and the
// app saw no body that was not answered. refusedOK allows connections
// refused after the server stopped (nothing was sent on them).
func (k *keepAliveClients) finish(refusedOK bool) clientSummary {
	k.t.Helper()
	if err := os.WriteFile(k.stopFile, nil, 0o644); err != nil {
		k.t.Fatal(err)
	}
	select {
	case <-k.exited:
	case <-time.After(30 * time.Second):
		k.t.Fatal("the keep-alive clients did not stop")
	}
	var s clientSummary
	if err := json.Unmarshal(k.out.Bytes(), &s); err != nil {
		k.t.Fatalf("keep-alive clients' report %q: %v", k.out.String(), err)
	}
	k.t.Logf("keep-alive clients: %d answered, %d reconnections, %d refused, %d failed",
		s.OK, s.Reconnects, s.Refused, len(s.Failures))
	if len(s.Failures) > 0 {
		k.t.Errorf("%d requests sent and not answered; first: %q", len(s.Failures), s.Failures[:min(5, len(s.Failures))])
	}
	if s.Refused > 0 && !refusedOK {
		k.t.Errorf("%d connections refused", s.Refused)
	}
	seen := map[string]int{}
	f, err := os.Open(k.record)
	if err != nil {
		k.t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		seen[sc.Text()]++
	}
	for _, body := range s.Answered {
		if n := seen[body]; n != 1 {
			k.t.Errorf("the app saw body %.30q %d times; want once", body, n)
		}
		delete(seen, body)
	}
	for body := range seen {
		k.t.Errorf("the app saw body %.30q that was never answered", body)
	}
	return s
}

// wrkRun is one wrk process with its output.
type wrkRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    bytes.Buffer
	exited chan struct{}
}

// startWrk runs wrk -t2 -cconns against url for up to a minute; stop
// ends it earlier. script, if not empty, is a Lua script's text.
func startWrk(t *testing.T, url string, conns int, script string) *wrkRun {
	t.Helper()
	args := []string{"-t2", "-c" + strconv.Itoa(conns), "-d60s"}
	if script != "" {
		path := filepath.Join(t.TempDir(), "wrk.lua")
		if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-s", path)
	}
	w := &wrkRun{t: t, cmd: exec.Command(debianTool(t, "wrk"), append(args, url)...), exited: make(chan struct{})}
	w.cmd.Stdout, w.cmd.Stderr = &w.out, &w.out
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.cmd.Wait(); close(w.exited) }()
	t.Cleanup(func() {
		w.cmd.Process.Kill()
		<-w.exited
	})
	return w
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkProblems = regexp.MustCompile(`Socket errors:.*|Non-2xx or 3xx responses:.*`)
)

// stop interrupts wrk (it then prints its summary) and checks it
// completed requests with no socket error and no non-2xx response.
func (w *wrkRun) stop() {
	w.t.Helper()
	select {
	case <-w.exited:
		w.t.Fatalf("wrk ended before the test stopped it:\n%s", w.out.String())
	default:
	}
	w.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-w.exited:
	case <-time.After(10 * time.Second):
		w.t.Fatal("wrk did not stop on SIGINT")
	}
	out := w.out.String()
	m := wrkRequests.FindStringSubmatch(out)
	if m == nil {
		w.t.Fatalf("wrk printed no summary:\n%s", out)
	}
	w.t.Logf("wrk: %s requests", m[1])
	if n, _ := strconv.Atoi(m[1]); n == 0 {
		w.t.Errorf("wrk completed no request:\n%s", out)
	}
	if p := wrkProblems.FindAllString(out, -1); p != nil {
		w.t.Errorf("wrk: %q\n%s", p, out)
	}
}

// establishedTo counts the established TCP connections whose local end
// is addr ("127.0.0.1:PORT"): the server's side of its clients.
func establishedTo(t *testing.T, addr string) int {
	t.Helper()
	_, port, _ := strings.Cut(addr, ":")
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	local := fmt.Sprintf("0100007F:%04X", p)
	n := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && f[1] == local && f[3] == "01" {
			n++
		}
	}
	return n
}

// exitedWorkers counts the "worker exited" lines logged by the master
// with pid master (0: any).
func (s *server) exitedWorkers(master int) int {
	n := 0
	for _, l := range s.find("worker exited") {
		if master == 0 || l.num("pid") == master {
			n++
		}
	}
	return n
}
