package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
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

// runOnce runs bin/gowsgi to completion (for --check-config,
// --print-config and refused configurations) and returns its exit code
// and outputs.
func runOnce(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// jsonLinesWith returns the JSON lines of the server's output that have
// key (access log lines on stdout have no "message").
func (s *server) jsonLinesWith(key string) []logLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []logLine
	for _, l := range s.lines {
		if _, ok := l[key]; ok {
			out = append(out, l)
		}
	}
	return out
}

// waitForFileLines polls path until it holds n lines and returns them.
func waitForFileLines(t *testing.T, s *server, path string, n int) []string {
	t.Helper()
	var lines []string
	s.waitFor(func() bool {
		data, _ := os.ReadFile(path)
		lines = strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		return len(data) > 0 && len(lines) >= n
	})
	return lines
}

// A Procfile line puts the app first and the flags after it, and takes
// the port and the worker count from PORT and WEB_CONCURRENCY.
func TestProcfileStyleCommand(t *testing.T) {
	s := start(t, serverOpts{
		bare:  true,
		args:  []string{"basic:hello", "--chdir", appsDir, "--log-level", "info"},
		env:   []string{"PORT=0", "WEB_CONCURRENCY=2"},
		ready: 2,
	})
	if !strings.HasPrefix(s.addr, "0.0.0.0:") {
		t.Fatalf("listening on %q; want 0.0.0.0:PORT from PORT", s.addr)
	}
	if code, body := s.get("/"); code != 200 || body != "Hello, World!" {
		t.Fatalf("GET / = %d %q", code, body)
	}
	if n := len(s.workerPIDs()); n != 2 {
		t.Fatalf("%d workers; want 2 from WEB_CONCURRENCY", n)
	}
}

// --print-config writes TOML that -c reads back to the same settings.
func TestPrintConfigRoundTrips(t *testing.T) {
	args := []string{"--print-config", "-w", "3", "--threads", "4", "-b", "127.0.0.1:9001", "-b", "unix:/tmp/gowsgi-rt.sock",
		"--access-logfile", "-", "--access-logformat", `{"s": %(s)s, "u": "%(U)s"}`, "-e", "A=b c",
		"--forwarded-allow-ips", "10.0.0.0/8,*", "--proxy-protocol", "-m", "0o027", "-n", "rt", "--timeout", "1.5s",
		"basic:make_app('hi')"}
	code, first, stderr := runOnce(t, nil, args...)
	if code != 0 {
		t.Fatalf("--print-config exited %d: %s", code, stderr)
	}
	file := filepath.Join(t.TempDir(), "printed.toml")
	if err := os.WriteFile(file, []byte(first), 0o644); err != nil {
		t.Fatal(err)
	}
	code, second, stderr := runOnce(t, nil, "-c", file, "--print-config")
	if code != 0 {
		t.Fatalf("-c printed.toml --print-config exited %d: %s", code, stderr)
	}
	// The second print names the config file it read; all else is equal.
	second = regexp.MustCompile(`(?m)^config = .*\n`).ReplaceAllString(second, "")
	first = regexp.MustCompile(`(?m)^config = .*\n`).ReplaceAllString(first, "")
	if first != second {
		t.Fatalf("round trip changed the settings:\nfirst:\n%s\nsecond:\n%s", first, second)
	}
	for _, want := range []string{`workers = 3`, `umask = `, `proc_name = "rt"`, `proxy_protocol = true`} {
		if !strings.Contains(first, want) {
			t.Errorf("printed config lacks %q:\n%s", want, first)
		}
	}
}

// A bad setting is one line on stderr naming where it came from, and
// exit code 2, before anything starts.
func TestBadConfigExitsWithOneLine(t *testing.T) {
	dir := t.TempDir()
	toml := filepath.Join(dir, "bad.toml")
	os.WriteFile(toml, []byte("workers = 2\nthreads = \"many\"\n"), 0o644)
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{name: "flag", args: []string{"-w", "0", "basic:hello"}, want: "gowsgi: -w: must be at least 1, got 0\n"},
		{name: "access log format", args: []string{"--access-logformat", "%(h)s %(nope", "basic:hello"},
			want: "gowsgi: --access-logformat: accesslog: bad format: \"%(nope\" at offset 6: want %(name)s\n"},
		{name: "environment", env: []string{"WEB_CONCURRENCY=lots"}, args: []string{"basic:hello"},
			want: `gowsgi: environment: WEB_CONCURRENCY: "lots" is not a whole number` + "\n"},
		{name: "config file", args: []string{"-c", toml, "basic:hello"}, want: toml + ":2: threads: "},
	}
	for _, tt := range tests {
		code, stdout, stderr := runOnce(t, tt.env, tt.args...)
		if code != 2 || stdout != "" {
			t.Errorf("%s: exit %d, stdout %q; want 2 and nothing", tt.name, code, stdout)
		}
		if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%s: stderr %q; want one line with %q", tt.name, stderr, tt.want)
		}
	}
}

func TestCheckConfig(t *testing.T) {
	code, stdout, stderr := runOnce(t, nil, "--check-config", "--chdir", appsDir, "basic:hello")
	if code != 0 || stdout != "" || stderr != "" {
		t.Fatalf("good app: exit %d, stdout %q, stderr %q; want 0 and silence", code, stdout, stderr)
	}
	for _, tt := range []struct{ app, want string }{
		{"broken_import:app", "ModuleNotFoundError: No module named 'this_module_does_not_exist_gowsgi'"},
		{"broken_syntax:app", "SyntaxError"},
		{"basic:no_such_app", "no_such_app"},
	} {
		code, _, stderr := runOnce(t, nil, "--check-config", "--chdir", appsDir, tt.app)
		if code != 1 {
			t.Errorf("%s: exit %d; want 1", tt.app, code)
		}
		var event logLine
		if err := json.Unmarshal([]byte(strings.TrimSpace(stderr)), &event); err != nil {
			t.Fatalf("%s: stderr is not one JSON event: %q", tt.app, stderr)
		}
		msg := event.str("message")
		if event.str("level") != "error" || !strings.Contains(msg, "Traceback") || !strings.Contains(msg, tt.want) {
			t.Errorf("%s: event %v; want an error with the traceback and %q", tt.app, event, tt.want)
		}
	}
}

// accessLineRE matches the format TestAccessLogText asks for, one group
// per atom.
var accessLineRE = regexp.MustCompile(`^(\S+) (-) (\S+) \[([^\]]+)\] "([^"]*)" (\d+) (\S+) "([^"]*)" "([^"]*)" ` +
	`(\S+) (\S+) (\S+) (\S+) (\d+) (\S+) (\S+) (\S+) <(\d+)> (\d+)$`)

func TestAccessLogText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	format := `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(m)s %(U)s %(q)s %(H)s %(B)s ` +
		`%({x-trace}o)s %({X-Req}i)s %({wsgi.url_scheme}e)s %(p)s %(D)s`
	s := start(t, serverOpts{args: []string{"--access-logfile", path, "--access-logformat", format, "peer:sized"}})
	before := time.Now().UTC().Truncate(time.Second)

	req, _ := http.NewRequest("GET", s.url("/sized/a%20b?n=10"), nil)
	req.Header.Set("Referer", "http://ref.example/")
	req.Header.Set("User-Agent", `agent "quoted" \ back`)
	req.Header.Set("X-Req", "r-1")
	req.SetBasicAuth("alice", "secret")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	head, _ := http.NewRequest("HEAD", s.url("/h?n=7"), nil)
	if resp, err = client.Do(head); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	lines := waitForFileLines(t, s, path, 2)
	if strings.Contains(lines[0], `"HEAD `) {
		lines[0], lines[1] = lines[1], lines[0] // each line is written after its response: any order
	}
	m := accessLineRE.FindStringSubmatch(lines[0])
	if m == nil {
		t.Fatalf("line %q does not match the format", lines[0])
	}
	when, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[4])
	if err != nil || when.Before(before.Add(-time.Second)) || when.After(time.Now().Add(time.Second)) {
		t.Errorf("%%(t)s = %q (%v); want about now", m[4], err)
	}
	pid := strconv.Itoa(s.workerPIDs()[0])
	want := map[string]string{
		"h": "127.0.0.1", "u": "alice", "r": "GET /sized/a%20b?n=10 HTTP/1.1", "s": "201", "b": "10",
		"f": "http://ref.example/", "a": `agent \x22quoted\x22 \x5c back`, "m": "GET", "U": "/sized/a%20b",
		"q": "n=10", "H": "HTTP/1.1", "B": "10", "{x-trace}o": "t-42", "{X-Req}i": "r-1",
		"{wsgi.url_scheme}e": "http", "p": pid,
	}
	got := map[string]string{
		"h": m[1], "u": m[3], "r": m[5], "s": m[6], "b": m[7], "f": m[8], "a": m[9], "m": m[10], "U": m[11],
		"q": m[12], "H": m[13], "B": m[14], "{x-trace}o": m[15], "{X-Req}i": m[16], "{wsgi.url_scheme}e": m[17], "p": m[18],
	}
	for atom, w := range want {
		if got[atom] != w {
			t.Errorf("%%(%s)s = %q; want %q (line %q)", atom, got[atom], w, lines[0])
		}
	}
	if d, _ := strconv.Atoi(m[19]); d <= 0 || d > 10_000_000 {
		t.Errorf("%%(D)s = %s µs; want a positive duration under 10 s", m[19])
	}
	// HEAD: no body goes out, so %(b)s and %(B)s are 0 (Gunicorn's "0",
	// not Apache's "-"); no Authorization means %(u)s is "-".
	m = accessLineRE.FindStringSubmatch(lines[1])
	if m == nil || m[5] != "HEAD /h?n=7 HTTP/1.1" || m[7] != "0" || m[14] != "0" || m[3] != "-" || m[16] != "-" {
		t.Errorf("HEAD line %q; want request HEAD /h?n=7, %%(b)s 0, %%(B)s 0, %%(u)s -, %%({X-Req}i)s -", lines[1])
	}
}

// An atom the access log does not know, such as a Python logging
// attribute copied into the format, is "-" as under Gunicorn (its
// SafeAtoms): the config starts, with a warning naming the atom.
func TestAccessLogUnknownAtomIsADash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	s := start(t, serverOpts{args: []string{"--access-logfile", path,
		"--access-logformat", `%(asctime)s %(h)s "%(r)s" %(s)s`, "basic:hello"}})
	if code, _ := s.get("/x"); code != 200 {
		t.Fatalf("GET /x = %d; want 200", code)
	}
	if lines := waitForFileLines(t, s, path, 1); lines[0] != `- 127.0.0.1 "GET /x HTTP/1.1" 200` {
		t.Errorf("access line %q; want %q", lines[0], `- 127.0.0.1 "GET /x HTTP/1.1" 200`)
	}
	warned := s.find(`--access-logformat: %(asctime)s is not an access log atom; logged as "-", as under Gunicorn`)
	if len(warned) != 1 || warned[0].str("level") != "warn" {
		t.Errorf("warnings about the unknown atom %v; want one:\n%s", warned, s.output())
	}
}

// A format that starts with '{' is a JSON template: each line must stay
// valid JSON whatever the client sends. Here the log goes to stdout.
func TestAccessLogJSONTemplate(t *testing.T) {
	format := `{"remote": "%(h)s", "request": "%(r)s", "status": %(s)s, "bytes": %(B)s, "agent": "%(a)s", ` +
		`"query": "%(q)s", "ms": %(M)s}`
	s := start(t, serverOpts{args: []string{"--access-logfile", "-", "--access-logformat", format, "basic:raises"}})
	agent := "evil\"}, \"status\": 999, \"x\": \"\\\t\u00e9"
	req, _ := http.NewRequest("GET", s.url("/ok?a=%22b%22"), nil)
	req.Header.Set("User-Agent", agent)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code, _ := s.get("/boom"); code != 500 {
		t.Fatalf("GET /boom = %d; want 500", code)
	}
	var lines []logLine
	s.waitFor(func() bool { lines = s.jsonLinesWith("request"); return len(lines) >= 2 })
	ok, boom := lines[0], lines[1]
	if ok.num("status") == 500 {
		ok, boom = boom, ok // each line is written after its response: any order
	}
	if ok.str("remote") != "127.0.0.1" || ok.str("request") != `GET /ok?a=%22b%22 HTTP/1.1` || ok.num("status") != 200 ||
		ok.num("bytes") != len("fine") || ok.str("agent") != latin1(agent) || ok.str("query") != `a=%22b%22` {
		t.Errorf("line %v; want the request as sent, 200, 4 bytes and the agent intact", ok)
	}
	if _, isNumber := ok["ms"].(float64); !isNumber {
		t.Errorf("ms = %#v; want a number", ok["ms"])
	}
	if boom.str("request") != "GET /boom HTTP/1.1" || boom.num("status") != 500 || boom.num("bytes") == 0 {
		t.Errorf("line %v; want the failed request logged with 500 and the error body's size", boom)
	}
}

// --capture-output turns the app's stdout and stderr into error-log
// events of the worker, without a level as Gunicorn's capture has none
// (TestCapturedOutputIsTheBareLine: no --log-level hides them). The
// error log is stderr here, the case where a careless capture would feed
// each event back into itself.
func TestCaptureOutput(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--capture-output", "peer:talk"}})
	if code, body := s.get("/x"); code != 200 || body != "talked" {
		t.Fatalf("GET /x = %d %q", code, body)
	}
	var out, errs []logLine
	s.waitFor(func() bool {
		out, errs = s.find("hello from stdout /x"), s.find("warning from stderr")
		return len(out) > 0 && len(errs) > 0
	})
	pid := s.workerPIDs()[0]
	for _, tt := range []struct {
		l             logLine
		stream, level string
	}{{out[0], "stdout", ""}, {errs[0], "stderr", ""}} {
		if tt.l.str("stream") != tt.stream || tt.l.str("level") != tt.level || tt.l.str("role") != "worker" ||
			tt.l.num("pid") != pid || tt.l.num("worker") != 1 {
			t.Errorf("event %v; want stream %s, level %q, role worker, pid %d, worker 1", tt.l, tt.stream, tt.level, pid)
		}
	}
	time.Sleep(100 * time.Millisecond) // a loop would multiply the lines by now
	if n := len(s.find("hello from stdout /x")); n != 1 {
		t.Errorf("the captured line was logged %d times; want once", n)
	}
	if n := strings.Count(s.output(), "hello from stdout"); n != 1 {
		t.Errorf("the output holds the app's line %d times; want once:\n%s", n, s.output())
	}
}

// TestCaptureOutputKeepsTheLastLines: what the app writes as its worker
// exits (atexit functions) and a last line without its newline reach the
// error log; the worker ended before they were read, and all were lost.
func TestCaptureOutputKeepsTheLastLines(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--capture-output", "captureexit:app"}})
	if code, body := s.get("/x"); code != 200 || body != "ok" {
		t.Fatalf("GET /x = %d %q", code, body)
	}
	s.signal(syscall.SIGTERM)
	if code := s.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	for _, want := range []string{"no newline from /xatexit line", "partial at exit"} {
		if l := s.find(want); len(l) != 1 || l[0].str("stream") != "stdout" {
			t.Errorf("captured %q: %v; want one stdout event", want, l)
		}
	}
}

// Every error-log line is JSON off a terminal and names its process:
// role and pid always, worker for a worker's own lines.
func TestEveryLogLineNamesItsProcess(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "2", "basic:raises"}, ready: 2})
	s.get("/boom")
	s.waitFor(func() bool { return strings.Contains(s.output(), "ZeroDivisionError") })
	s.signal(syscall.SIGTERM)
	s.wait(20 * time.Second)
	roles := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(s.output()), "\n") {
		var l logLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Errorf("not JSON: %q", line)
			continue
		}
		role := l.str("role")
		roles[role]++
		if l.num("pid") <= 0 || (role != "master" && role != "worker") {
			t.Errorf("line without role or pid: %q", line)
		}
		if role == "worker" && l.num("worker") < 1 {
			t.Errorf("worker line without its worker number: %q", line)
		}
	}
	if roles["master"] == 0 || roles["worker"] == 0 {
		t.Errorf("lines per role %v; want both", roles)
	}
}

// --log-format console gives human-readable lines, still with role, pid
// and worker.
func TestConsoleLogFormat(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--log-format", "console", "basic:hello"}, ready: -1})
	booted := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INF booted role=worker pid=\d+ worker=1 app=basic:hello$`)
	s.waitFor(func() bool { return booted.MatchString(s.output()) })
	if lines := s.jsonLinesWith("level"); len(lines) != 0 {
		t.Errorf("console format wrote JSON lines: %v", lines)
	}
}

// The master and the workers show their role and --name in ps.
func TestProcessTitles(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-n", "shop", "basic:hello"}})
	for pid, want := range map[int]string{s.cmd.Process.Pid: "gowsgi: master [shop]", s.workerPIDs()[0]: "gowsgi: worker [shop]"} {
		cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimRight(string(cmdline), "\x00"); got != want {
			t.Errorf("pid %d cmdline %q; want %q", pid, got, want)
		}
		comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		if got, w := strings.TrimSpace(string(comm)), strings.TrimSpace(want[:15]); got != w {
			t.Errorf("pid %d comm %q; want %q", pid, got, w)
		}
	}
}

// latin1 is how the access log shows bytes it cannot know to be UTF-8:
// each byte as the code point of the same value (PEP 3333's latin-1).
func latin1(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

// TestLogReaderGoneKeepsServing: when the reader of gowsgi's stdout and
// stderr goes away (a pipe to a log shipper that exits), the master and
// the workers go on serving, as Gunicorn's do; Go ends a program at a
// broken pipe on fd 1 or 2 unless it handles SIGPIPE, and the next log
// line took the whole server down (exit status 141, nothing logged).
func TestLogReaderGoneKeepsServing(t *testing.T) {
	addr := unusedAddr(t)
	cmd := exec.Command(binary, "--chdir", appsDir, "-b", addr, "-w", "2", "--access-logfile", "-", "basic:hello")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); <-exited }()
	// The log reader reads until both workers are ready, then goes away.
	br := bufio.NewReader(pr)
	for ready := 0; ready < 2; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("the log ended before the workers were ready: %v", err)
		}
		if strings.Contains(line, `"message":"worker ready"`) {
			ready++
		}
	}
	pr.Close()
	for i := range 20 { // each one an access log line and more to a pipe nobody reads
		code, body := do(t, http.MethodGet, "http://"+addr+"/", "")
		if code != 200 {
			t.Fatalf("request %d after the log reader left: %d %q", i, code, body)
		}
	}
	select {
	case err := <-exited:
		t.Fatalf("gowsgi exited after its log reader left: %v", err)
	default:
	}
}
