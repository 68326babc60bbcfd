package master

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/handoff"
	"golang.org/x/sys/unix"
)

// osEffects is every effect the arbiter has on the world, so its logic
// runs in tests against fakes. All funcs are called from the arbiter
// goroutine only; none may be nil.
type osEffects struct {
	// spawn starts worker id of generation gen with cfg. How is its
	// business: a re-exec of the binary, or with --preload a fork by the
	// generation's zygote (zygote.go). The worker's control messages
	// arrive later as events, its death through reap.
	// attrs are what pre_fork stored on the worker (handoff.Boot).
	spawn func(id, gen int, cfg *config.Config, attrs json.RawMessage) (pid int, err error)
	// signal sends sig to a process.
	signal func(pid int, sig syscall.Signal) error
	// signalThread sends sig to thread tid of process pid (tgkill).
	signalThread func(pid, tid int, sig syscall.Signal) error
	// reap collects every exited child without blocking.
	reap func() []exit
	now  func() time.Time
	// after is time.After.
	after func(d time.Duration) <-chan time.Time

	// quiesce makes the listeners take no new connection while those
	// already queued stay, and returns a channel closed once the queues
	// are empty (when wait is set and workers are accepting) or after
	// at most max.
	quiesce func(wait bool, max time.Duration) <-chan struct{}
	// rebind opens the listeners of cfg.Bind for the workers of
	// generation gen (a HUP that changed the bind), keeping the sockets
	// of addresses already bound, and returns those it opened; none on
	// error. settleListeners closes every listener that generation gen
	// does not use, once it serves or another has failed, and returns
	// them.
	rebind          func(gen int, cfg *config.Config) ([]*listener, error)
	settleListeners func(gen int) []*listener
	// movePidfile writes the pidfile at path instead (a HUP that changed
	// it; "" for none), and removes the old one.
	movePidfile func(path string) error
	// loadConfig resolves the configuration again from the original
	// command line and environment (HUP).
	loadConfig func() (*config.Config, error)
	// execMaster starts a new master from the binary on disk, handing it
	// the listeners (USR2). It reports readiness as evChildReady.
	execMaster func() (pid int, err error)
	// ready announces that the first generation serves: READY=1 to
	// systemd, or, in a master started by USR2, to the old master.
	ready func()
	// notify sends a state line to systemd (READY=1, RELOADING=1,
	// STOPPING=1, MAINPID=N) when it supervises us.
	notify func(state string)
	// reopenLogs reopens the master's log file (USR1) and readies the
	// files of cfg's workers for them to reopen (prepareWorkerLogs).
	reopenLogs func(cfg *config.Config) error
	// promote takes over the pidfile once the old master of an upgrade
	// has exited.
	promote func() error
	// inForeground reports whether the master runs in the foreground of
	// a terminal, where WINCH means a window resize.
	inForeground func() bool
	// endHelpers stops the helper processes left when the master exits
	// (the zygotes) and reaps them, so that none outlives it.
	endHelpers func()
}

type exit struct {
	pid    int
	status unix.WaitStatus
}

// code is the exit status, or -1 for a death by signal.
func (e exit) code() int {
	if e.status.Exited() {
		return e.status.ExitStatus()
	}
	return -1
}

// spawnWorker starts a worker: this very binary (/proc/self/exe, even if
// the file on disk was replaced since) with the hidden worker command,
// the boot pipe, the control pipe and the listeners at the fds named in
// handoff. Its control lines become events.
func spawnWorker(p *process, ls []*listener, pass *passPair, events chan<- event, id int, cfg *config.Config,
	attrs json.RawMessage) (int, error) {
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
	for _, l := range ls {
		files = append(files, l.file)
	}
	files = append(files, pass.files()...)
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{p.exe, handoff.WorkerCommand},
		Env:        childEnviron(p.environ),
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
	boot := handoff.Boot{WorkerID: id, Listeners: len(ls), PassSockets: pass != nil, Config: cfg, HookAttrs: attrs}
	go func() {
		json.NewEncoder(bootW).Encode(&boot)
		bootW.Close()
	}()
	go readControl(pid, ctlR, events)
	return pid, nil
}

// readControl forwards a worker's control messages until it exits.
func readControl(pid int, f *os.File, events chan<- event) {
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch line {
		case handoff.MsgReady:
			events <- event{kind: evReady, pid: pid}
		case handoff.MsgRetire:
			events <- event{kind: evRetire, pid: pid}
		case handoff.MsgRetireStuck:
			events <- event{kind: evRetire, pid: pid, note: "stuck"}
		case handoff.MsgAborted:
			events <- event{kind: evAborted, pid: pid}
		case handoff.MsgTermed:
			events <- event{kind: evTermed, pid: pid}
		case handoff.MsgExiting:
			events <- event{kind: evExiting, pid: pid}
		default:
			if hb, ok := handoff.ParseHeartbeat(line); ok {
				events <- event{kind: evHeartbeat, pid: pid, hb: hb}
			} else if st, ok := handoff.ParseStats(line); ok {
				events <- statsEvent(pid, st)
			} else if chunk, more, ok := handoff.ParseStacks(line); ok {
				events <- stacksEvent(pid, chunk, more)
			} else if tid, ok := handoff.ParseSignalThread(line); ok {
				events <- event{kind: evSigThread, pid: pid, tid: tid}
			}
		}
	}
}

func reapAll() []exit {
	var out []exit
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return out
		}
		out = append(out, exit{pid: pid, status: ws})
	}
}

// inForeground reports whether this process is in the foreground
// process group of its controlling terminal.
func inForeground() bool {
	fd, err := unix.Open("/dev/tty", unix.O_RDONLY|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false // no controlling terminal
	}
	defer unix.Close(fd)
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}

// newRealOS wires the arbiter to the real world.
func newRealOS(p *process, sets *listenerSets, pass *passPair, pf *pidfile, elog *errorlog.Log, events chan<- event) *osEffects {
	zs := newZygotes(p, sets, events, elog.Logger("master"))
	zs.pass = pass
	return &osEffects{
		spawn:  zs.spawn,
		signal: func(pid int, sig syscall.Signal) error { return unix.Kill(pid, sig) },
		signalThread: func(pid, tid int, sig syscall.Signal) error {
			return unix.Tgkill(pid, tid, sig)
		},
		reap:  func() []exit { return zs.reap(reapAll()) },
		now:   time.Now,
		after: time.After,
		quiesce: func(wait bool, max time.Duration) <-chan struct{} {
			return quiesce(sets.all(), pass.queue(), wait, max)
		},
		rebind:          sets.rebind,
		settleListeners: sets.settle,
		movePidfile:     pf.move,
		loadConfig:      p.loadConfig,
		execMaster:      func() (int, error) { return execMaster(p, sets.current(), events) },
		ready:           p.announceReady,
		notify:          p.notify,
		reopenLogs: func(cfg *config.Config) error {
			return errors.Join(elog.Reopen(), prepareWorkerLogs(cfg))
		},
		promote: func() error {
			p.promoted = true
			return pf.promote()
		},
		inForeground: inForeground,
		endHelpers:   func() { zs.end(helperExitWait) },
	}
}

// helperExitWait bounds how long an exiting master waits for a helper
// process (a zygote, the hook host) to exit once told to, before it
// kills it.
const helperExitWait = 5 * time.Second

// awaitChild waits for the child pid to exit, for timeout at most, then
// kills it and reaps it. A child already reaped returns at once.
func awaitChild(pid int, timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		var ws unix.WaitStatus
		for {
			if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
				break
			}
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
		unix.Kill(pid, unix.SIGKILL)
		<-done
	}
}
