package master

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gowsgi/gowsgi/config"
)

// process is what the master knows of its own process, captured when it
// starts: the command line and environment (read again on HUP, passed
// on to a new master on USR2), the binary on disk, and its part in a
// binary upgrade. Written at start, then only by the arbiter goroutine.
type process struct {
	args    []string // the command line without argv[0]
	argv0   string
	exe     string // the binary on disk as it was started, for USR2 and ps
	cwd     string
	environ []string // without the variables consumed at start (inheritedVars)
	pid     int

	notifySocket string // NOTIFY_SOCKET: systemd listens there; "" when not under systemd

	// In a master started by USR2, until the old master exits:
	parentReady *os.File // the old master waits for "ready" here; nil once written
	parentPID   int      // 0 when not started by USR2
	promoted    bool     // the old master exited: this one is the main process
}

// Environment variables a master consumes when it starts; its workers
// and any later new master must not see the old values.
var inheritedVars = []string{envFDs, envReadyFD, "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}

// currentProcess captures the running process. args is the command line
// without argv[0].
func currentProcess(args []string) *process {
	cwd, _ := os.Getwd()
	p := &process{args: args, argv0: os.Args[0], cwd: cwd, pid: os.Getpid()}
	p.exe = resolveBinary(p.argv0, cwd)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		consumed := false
		for _, v := range inheritedVars {
			consumed = consumed || name == v
		}
		if !consumed {
			p.environ = append(p.environ, kv)
		}
	}
	p.notifySocket = p.getenv("NOTIFY_SOCKET")
	return p
}

// resolveBinary finds the file a USR2 upgrade executes: argv[0] as the
// shell resolved it, not the target of /proc/self/exe, so that a
// symlink switched to a new release is followed, as Gunicorn does.
func resolveBinary(argv0, cwd string) string {
	switch {
	case strings.Contains(argv0, "/") && filepath.IsAbs(argv0):
		return argv0
	case strings.Contains(argv0, "/"):
		return filepath.Join(cwd, argv0)
	}
	if p, err := exec.LookPath(argv0); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	exe, _ := os.Executable()
	return exe
}

// getenv reads the environment as it was when the master started.
func (p *process) getenv(name string) string {
	for _, kv := range p.environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// loadConfig resolves the configuration again as the command line did
// at start: same arguments, same environment, same directory.
func (p *process) loadConfig() (*config.Config, error) {
	cfg, _, err := config.Load(p.args, p.getenv, io.Discard)
	if err == nil {
		err = loadTLS(cfg) // tls.go: a bad new certificate keeps the old one serving
	}
	return cfg, err
}

// announceReady tells whoever waits that the first generation serves.
func (p *process) announceReady() {
	if p.parentReady != nil {
		p.parentReady.WriteString(upgradeReadyLine + "\n")
		p.parentReady.Close()
		p.parentReady = nil
		return
	}
	p.notify("READY=1")
}

// notify sends state to systemd. A master started by USR2 stays quiet
// until the old one has exited and handed it the MAINPID: systemd
// ignores (and logs) messages from a process that is not the main one.
func (p *process) notify(state string) {
	if p.notifySocket == "" || (p.parentPID != 0 && !p.promoted) {
		return
	}
	sdNotify(p.notifySocket, state)
}
