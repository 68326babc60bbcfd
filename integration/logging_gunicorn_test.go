package integration

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// --log-format gunicorn: lines in the layout and, for the events log
// monitors wait on, the words of Gunicorn's own error log.

// TestGunicornLogFormat: --log-format gunicorn lines, the master's and
// the workers', have the layout of Gunicorn's own error log lines up to
// the message: the reference line is written by Debian's Gunicorn
// through its Logger, and the numbers in both are compared as numbers.
func TestGunicornLogFormat(t *testing.T) {
	ref, err := exec.Command("/usr/bin/python3", "-c", "from gunicorn.config import Config\n"+
		"from gunicorn.glogging import Logger\nLogger(Config()).info('reference')").CombinedOutput()
	refPrefix, _, found := strings.Cut(strings.TrimSpace(string(ref)), "reference")
	if err != nil || !found {
		t.Fatalf("Gunicorn's reference line: %v: %q (make test installs Debian's gunicorn)", err, ref)
	}
	numbers := regexp.MustCompile(`[0-9]+`)
	shape := func(prefix string) string { return numbers.ReplaceAllString(prefix, "N") }

	s := start(t, serverOpts{args: []string{"--log-format", "gunicorn", "basic:hello"}, ready: -1})
	booted := regexp.MustCompile(`\[INFO\] Booting worker with pid: ([0-9]+) worker=1 app=basic:hello`)
	listening := regexp.MustCompile(`\[([0-9]+)\] \[INFO\] Listening at: http://127\.0\.0\.1:[0-9]+ \(([0-9]+)\)\n`)
	s.waitFor(func() bool { return booted.MatchString(s.output()) && listening.MatchString(s.output()) })
	if m := listening.FindStringSubmatch(s.output()); m[1] != m[2] || m[1] != strconv.Itoa(s.cmd.Process.Pid) {
		t.Errorf("%q; want Gunicorn's Listening at: with the master's pid %d", m[0], s.cmd.Process.Pid)
	}
	pids := map[string]bool{}
	for _, line := range strings.Split(s.output(), "\n") {
		prefix, _, ok := strings.Cut(line, "[INFO] ")
		if !ok {
			continue
		}
		prefix += "[INFO] "
		if shape(prefix) != shape(refPrefix) {
			t.Errorf("line %q; want Gunicorn's layout, as %q", line, ref)
		}
		pids[strings.Fields(prefix)[3]] = true // [date time zone] [pid]
	}
	if len(pids) != 2 {
		t.Errorf("INFO lines from %d processes %v; want the master's and the worker's:\n%s", len(pids), pids, s.output())
	}
	// The master logs each signal it handles as Gunicorn's arbiter does.
	s.cmd.Process.Signal(syscall.SIGHUP)
	handled := "[" + strconv.Itoa(s.cmd.Process.Pid) + "] [INFO] Handling signal: hup\n"
	s.waitFor(func() bool { return strings.Contains(s.output(), handled) })
}

// TestGunicornLogFormatWSGIErrorsLinesAreBare: what an app writes to
// wsgi.errors (Flask's app.logger does during a request) is written as
// it is with --log-format gunicorn, as Gunicorn's WSGIErrorsWrapper
// writes it into the error log's stream: no level a log parser would
// choke on.
func TestGunicornLogFormatWSGIErrorsLinesAreBare(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "gowsgi.sock")
	s := start(t, serverOpts{args: []string{"--log-format", "gunicorn", "-b", "unix:" + sock, "pep3333:errors"}, ready: -1})
	s.waitFor(func() bool { return strings.Contains(s.output(), "[INFO] Booting worker with pid: ") })
	if out, err := exec.Command("curl", "-sS", "--max-time", "20", "--unix-socket", sock, "http://x/?tag=T8").CombinedOutput(); err != nil || string(out) != "logged" {
		t.Fatalf("curl: %v: %q", err, out)
	}
	s.waitFor(func() bool { return strings.Contains(s.output(), "\nsixth T8\n") })
	for _, line := range []string{"first T8 line", "second T8", "third T8", "fourth T8", "fifth T8"} {
		if !strings.Contains(s.output(), "\n"+line+"\n") {
			t.Errorf("no bare line %q in:\n%s", line, s.output())
		}
	}
}

// TestGunicornLogFormatWorkerTimeout: a request that outlives --timeout
// reads, with --log-format gunicorn, as Debian's Gunicorn logs it (the
// line log monitors alert on): "[CRITICAL] WORKER TIMEOUT (pid:N)",
// counted in gunicorn.log.critical as Gunicorn counts it; the master's
// own kill of the worker is no "Perhaps out of memory?".
func TestGunicornLogFormatWorkerTimeout(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "gunicorn.sock")
	gunicorn := exec.Command("/usr/bin/gunicorn", "--chdir", appsDir, "-b", "unix:"+sock, "--timeout", "1", "basic:slow")
	gout := &lockedBuffer{}
	gunicorn.Stdout, gunicorn.Stderr = gout, gout
	gunicorn.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := gunicorn.Start(); err != nil {
		t.Fatalf("Debian's gunicorn: %v (make test installs it)", err)
	}
	defer func() { syscall.Kill(-gunicorn.Process.Pid, syscall.SIGKILL); gunicorn.Wait() }() // its workers too
	eventually(t, "Gunicorn's socket", func() bool { _, err := os.Stat(sock); return err == nil })
	go exec.Command("curl", "-s", "--max-time", "20", "--unix-socket", sock, "http://x/?seconds=10").Run()
	timeoutLine := regexp.MustCompile(`\[[0-9]+\] \[CRITICAL\] WORKER TIMEOUT \(pid:[0-9]+\)`)
	eventually(t, "Gunicorn's timeout line", func() bool { return timeoutLine.MatchString(gout.String()) })
	reference := timeoutLine.FindString(gout.String())

	sd := listenStatsd(t, "udp", "127.0.0.1:0")
	s := start(t, serverOpts{args: []string{"--log-format", "gunicorn", "--timeout", "1",
		"--statsd-host", sd.pc.LocalAddr().String(), "basic:slow"}, ready: -1})
	listening := regexp.MustCompile(`Listening at: http://(\S+) `) // the harness reads JSON lines only
	s.waitFor(func() bool {
		return strings.Contains(s.output(), "[INFO] Booting worker with pid:") && listening.MatchString(s.output())
	})
	go http.Get("http://" + listening.FindStringSubmatch(s.output())[1] + "/?seconds=10")
	s.waitFor(func() bool { return timeoutLine.MatchString(s.output()) })
	numbers := regexp.MustCompile(`[0-9]+`)
	if got := timeoutLine.FindString(s.output()); numbers.ReplaceAllString(got, "N") != numbers.ReplaceAllString(reference, "N") {
		t.Errorf("gowsgi's timeout line %q; want Gunicorn's %q", got, reference)
	}
	s.waitFor(func() bool { return strings.Contains(s.output(), "] [INFO] Worker (pid:") })
	if out := s.output(); strings.Contains(out, "Perhaps out of memory") || !strings.Contains(out, "was sent SIGKILL! worker=") {
		t.Errorf("the timed-out worker's exit; want an INFO SIGKILL line without the OOM hint:\n%s", out)
	}
	s.waitFor(func() bool { return sd.count("gunicorn.log.critical", "") == 1 })
	if n := sd.count("gunicorn.log.error", ""); n != 0 {
		t.Errorf("gunicorn.log.error = %d; want 0 (the timeout is critical)", n)
	}
}

// lockedBuffer is a bytes.Buffer a command writes to while a test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
