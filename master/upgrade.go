package master

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// The binary upgrade (USR2) contract between an old master and the new
// one it executes. Both sides may be different releases of gowsgi, so
// it only ever grows.
const (
	// envFDs lists the listeners the new master inherits, as JSON
	// (inheritedFD), at fds 3, 4, ... in that order.
	envFDs = "GOWSGI_FDS"
	// envReadyFD is the fd where the new master writes upgradeReadyLine
	// once its workers serve.
	envReadyFD = "GOWSGI_READY_FD"

	upgradeReadyLine = "ready"
	firstInheritedFD = 3
	// parentPoll is how often a new master checks whether the old one
	// has exited.
	parentPoll = 200 * time.Millisecond
)

// Upgrading reports whether this process is a new master an old one
// started on USR2 (it inherits the listeners): it must not daemonize
// again, as the old master waits for it.
func Upgrading() bool {
	_, ok := os.LookupEnv(envFDs)
	return ok
}

// inheritedFD describes one listener in envFDs.
type inheritedFD struct {
	FD     int    `json:"fd"`
	Unlink string `json:"unlink,omitempty"`
	Ino    uint64 `json:"ino,omitempty"`
	Owned  bool   `json:"owned,omitempty"`
	// Bind is the --bind value it was bound for, so that a HUP in the
	// new master keeps it; older binaries do not send it.
	Bind string `json:"bind,omitempty"`
}

// execMaster starts the binary on disk as a new master with the same
// command line, environment and directory, handing it every listener;
// the sockets stay open in both, so no connection is refused. A
// goroutine turns the new master's "ready" into evChildReady.
func execMaster(p *process, ls []*listener, events chan<- event) (int, error) {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer readyW.Close()
	var desc []inheritedFD
	var files []*os.File
	for i, l := range ls {
		desc = append(desc, inheritedFD{FD: firstInheritedFD + i, Unlink: l.unlink, Ino: l.ino,
			Owned: l.owned, Bind: l.bind})
		files = append(files, l.file)
	}
	files = append(files, readyW)
	fds, _ := json.Marshal(desc)
	cmd := &exec.Cmd{
		Path: p.exe,
		Args: append([]string{p.argv0}, p.args...),
		Env: append(p.environ[:len(p.environ):len(p.environ)],
			envFDs+"="+string(fds), envReadyFD+"="+strconv.Itoa(firstInheritedFD+len(ls))),
		Dir:        p.cwd,
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		ExtraFiles: files,
	}
	if err := cmd.Start(); err != nil {
		readyR.Close()
		return 0, err
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	go func() {
		defer readyR.Close()
		line, _ := bufio.NewReader(readyR).ReadString('\n')
		if line == upgradeReadyLine+"\n" {
			events <- event{kind: evChildReady, pid: pid}
		}
	}()
	return pid, nil
}

// inheritFromOldMaster adopts the listeners of the master that executed
// this one (USR2), and the pipe to tell it when this one serves. It
// returns nil listeners when this master was not started by USR2.
func inheritFromOldMaster(p *process) ([]*listener, error) {
	raw, ok := os.LookupEnv(envFDs)
	if !ok {
		return nil, nil
	}
	var desc []inheritedFD
	if err := json.Unmarshal([]byte(raw), &desc); err != nil || len(desc) == 0 {
		return nil, fmt.Errorf("%s=%q: want the JSON list of listeners from the old master", envFDs, raw)
	}
	var ls []*listener
	for _, d := range desc {
		l, err := adoptFD(d.FD, "fd://"+strconv.Itoa(d.FD))
		if err != nil {
			closeListeners(ls)
			return nil, fmt.Errorf("inheriting from the old master: %w", err)
		}
		l.unlink, l.ino, l.owned, l.bind = d.Unlink, d.Ino, d.Owned, d.Bind
		ls = append(ls, l)
	}
	if n, err := strconv.Atoi(os.Getenv(envReadyFD)); err == nil && n > 2 {
		unix.CloseOnExec(n)
		p.parentReady = os.NewFile(uintptr(n), "upgrade-ready")
	}
	p.parentPID = unix.Getppid()
	return ls, nil
}

// watchParent sends evPromoted once the old master has exited: this
// process is then re-parented, so its parent pid changes.
func watchParent(parent int, events chan<- event) {
	for unix.Getppid() == parent {
		time.Sleep(parentPoll)
	}
	events <- event{kind: evPromoted}
}
