package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/master"
)

// envDaemon marks the command started by daemonize: the daemon itself.
const envDaemon = "GOWSGI_DAEMON"

// daemonize starts this command again detached, as Gunicorn's -D does
// (util.daemonize): in a session of its own, with stdin, stdout and
// stderr on /dev/null (with --enable-stdio-inheritance, stdout and
// stderr stay where they are when not a terminal), and exits 0 at once;
// the daemon sets umask 022 and goes on as the master. Gunicorn forks
// twice so that the daemon is not a session leader; gowsgi never opens a
// terminal, so the one new session does. A USR2 upgrade's new master
// does not detach again (master.Upgrading), as Gunicorn's does not.
func daemonize(cfg *config.Config) (code int, exit bool) {
	if !cfg.Daemon || master.Upgrading() {
		return 0, false
	}
	if os.Getenv(envDaemon) != "" {
		os.Unsetenv(envDaemon)
		syscall.Umask(0o22)
		return 0, false
	}
	if os.Getenv("NOTIFY_SOCKET") != "" { // Gunicorn warns the same
		fmt.Fprintln(os.Stderr, "gowsgi: warning: --daemon under systemd's Type=notify: systemd loses the master; run it in the foreground")
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gowsgi: --daemon: %v\n", err)
		return 1, true
	}
	defer null.Close()
	keep := func(f *os.File) *os.File {
		if cfg.EnableStdioInheritance && !errorlog.IsTerminal(f) {
			return f
		}
		return null
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gowsgi: --daemon: %v\n", err)
		return 1, true
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), envDaemon+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, keep(os.Stdout), keep(os.Stderr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "gowsgi: --daemon: %v\n", err)
		return 1, true
	}
	cmd.Process.Release()
	return 0, true
}
