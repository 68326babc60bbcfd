package integration

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDaemonDetaches: -D, as Gunicorn's: the command exits 0 at once and
// the master goes on in a session of its own, stdin, stdout and stderr
// on /dev/null, umask 022, writing --pid and --error-logfile; it serves
// and stops on TERM. With -R, stdout and stderr that are a file stay.
func TestDaemonDetaches(t *testing.T) {
	for _, tt := range []struct {
		name      string
		args      []string
		stdoutDev string // what the daemon's fd 1 and 2 are
	}{
		{name: "-D", args: []string{"-D"}, stdoutDev: "/dev/null"},
		{name: "-D -R", args: []string{"-D", "-R"}, stdoutDev: "out.log"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			pidFile, logFile, outFile := filepath.Join(dir, "gowsgi.pid"), filepath.Join(dir, "error.log"), filepath.Join(dir, "out.log")
			out, err := os.Create(outFile)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			cmd := exec.Command(binary, append(tt.args, "--pid", pidFile, "--error-logfile", logFile,
				"--chdir", appsDir, "-b", "127.0.0.1:0", "basic:hello")...)
			cmd.Stdout, cmd.Stderr = out, out
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("gowsgi -D: %v; want exit 0", err)
				}
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatal("gowsgi -D did not exit")
			}

			var pid int
			var addr string
			t.Cleanup(func() { // also when a check below fails
				if pid > 0 {
					syscall.Kill(pid, syscall.SIGTERM)
					eventually(t, "the daemon to exit", func() bool { return syscall.Kill(pid, 0) != nil })
				}
			})
			eventually(t, "the pid file and the listening line", func() bool {
				pid, addr = readPidfile(pidFile), listeningAddress(logFile)
				return pid > 0 && addr != ""
			})
			if pid == cmd.Process.Pid {
				t.Errorf("the daemon is the process started (%d); want a new one", pid)
			}
			if sid, err := sessionID(pid); err != nil || sid != pid {
				t.Errorf("the daemon's session %d (%v); want its own (%d)", sid, err, pid)
			}
			for fd, want := range []string{"/dev/null", tt.stdoutDev, tt.stdoutDev} {
				if target, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + strconv.Itoa(fd)); filepath.Base(target) != filepath.Base(want) {
					t.Errorf("the daemon's fd %d is %q; want %s", fd, target, want)
				}
			}
			status, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
			if !strings.Contains(string(status), "Umask:\t0022") {
				t.Errorf("the daemon's umask: %q; want 0022", status)
			}
			resp, err := http.Get("http://" + addr + "/")
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET /: %v %v", resp, err)
			}
			resp.Body.Close()
			syscall.Kill(pid, syscall.SIGTERM)
			eventually(t, "the pid file to go", func() bool { _, err := os.Stat(pidFile); return os.IsNotExist(err) })
		})
	}
}

// listeningAddress is the address the master's "listening" line in the
// JSON error log at path names, "" before it is written.
func listeningAddress(path string) string {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) == nil && l["message"] == "listening" {
			addr, _ := l["address"].(string)
			return addr
		}
	}
	return ""
}

// sessionID is the session of process pid (/proc/PID/stat's sixth field).
func sessionID(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return strconv.Atoi(fields[3]) // state, ppid, pgrp, session
}
