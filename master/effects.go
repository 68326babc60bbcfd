package master

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/config/handoff"
	"golang.org/x/sys/unix"
)

// osEffects is every effect the arbiter has on the world, so its logic
// runs in tests against fakes. All funcs are called from the arbiter
// loop only.
type osEffects struct {
	// spawn starts worker id; its control messages arrive later as
	// evReady events, its death through reap.
	spawn func(id int) (pid int, err error)
	// signal sends sig to a worker.
	signal func(pid int, sig syscall.Signal) error
	// reap collects every exited child without blocking.
	reap func() []exit
	// after is time.After.
	after func(d time.Duration) <-chan time.Time
}

type exit struct {
	pid    int
	status unix.WaitStatus
}

// realOS starts real worker processes: the same binary re-executed with
// the hidden worker command and the listeners at fixed fds.
type realOS struct {
	exe       string
	cfg       *config.Config
	listeners []listener
	events    chan<- event
}

func newRealOS(cfg *config.Config, ls []listener, events chan<- event) (*osEffects, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find the gowsgi binary to start workers: %w", err)
	}
	r := &realOS{exe: exe, cfg: cfg, listeners: ls, events: events}
	return &osEffects{
		spawn:  r.spawn,
		signal: func(pid int, sig syscall.Signal) error { return unix.Kill(pid, sig) },
		reap:   reapAll,
		after:  time.After,
	}, nil
}

func (r *realOS) spawn(id int) (int, error) {
	bootR, bootW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer bootR.Close()
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		bootW.Close()
		return 0, err
	}
	defer ctlW.Close()
	files := []*os.File{bootR, ctlW} // handoff.ConfigFD, handoff.ControlFD
	for _, l := range r.listeners {
		files = append(files, l.file)
	}
	cmd := &exec.Cmd{
		Path:       r.exe,
		Args:       []string{r.exe, handoff.WorkerCommand},
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		ExtraFiles: files,
		// A worker outliving a killed master would serve with nobody
		// supervising it: stop it gracefully.
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM},
	}
	if err := cmd.Start(); err != nil {
		bootW.Close()
		ctlR.Close()
		return 0, err
	}
	pid := cmd.Process.Pid
	cmd.Process.Release() // the arbiter reaps with wait4, not cmd.Wait
	boot := handoff.Boot{WorkerID: id, Listeners: len(r.listeners), Config: r.cfg}
	go func() {
		json.NewEncoder(bootW).Encode(&boot)
		bootW.Close()
	}()
	go r.readControl(pid, ctlR)
	return pid, nil
}

// readControl forwards a worker's control messages until it exits.
func (r *realOS) readControl(pid int, f *os.File) {
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() == handoff.MsgReady {
			r.events <- event{kind: evReady, pid: pid}
		}
	}
}

func reapAll() []exit {
	var out []exit
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return out
		}
		out = append(out, exit{pid: pid, status: ws})
	}
}
