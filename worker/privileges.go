package worker

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/gowsgi/gowsgi/sysuser"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// dropPrivileges switches the worker to --user and --group (and with
// --initgroups the user's supplementary groups, else none). The master
// bound the sockets as root; the app is imported only afterwards, so no
// app code runs as root.
//
// The log files are first handed to the user, as Gunicorn does, so that
// the worker can still reopen them on USR1. syscall.Setuid and friends
// change every thread of the process (glibc's setxid broadcast in a cgo
// binary), not just the calling one.
func dropPrivileges(cfg *config.Config, log zerolog.Logger) error {
	id, err := sysuser.Resolve(cfg.User, cfg.Group, cfg.InitGroups)
	if err != nil || !id.Switch {
		return err
	}
	if id.UID == os.Getuid() && id.GID == os.Getgid() {
		return nil // already there: nothing to drop
	}
	for _, path := range []string{cfg.ErrorLog, cfg.AccessLog} {
		if path != "" && path != "-" {
			if err := os.Chown(path, id.UID, id.GID); err != nil {
				log.Warn().Err(err).Str("path", path).Msg("cannot hand the log file to the worker user")
			}
		}
	}
	if err := syscall.Setgroups(id.Groups); err != nil {
		return fmt.Errorf("cannot set the supplementary groups of user %q: %w (is gowsgi running as root?)", cfg.User, err)
	}
	if err := syscall.Setgid(id.GID); err != nil {
		return fmt.Errorf("cannot switch to group %d: %w", id.GID, err)
	}
	master := os.Getppid()
	if err := syscall.Setuid(id.UID); err != nil {
		return fmt.Errorf("cannot switch to user %d: %w", id.UID, err)
	}
	// Linux clears the parent-death signal on a uid change: re-arm it, or
	// a worker outlives a killed master with nobody supervising it; and
	// stop if the master already died in between.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGTERM), 0, 0, 0); err != nil {
		return fmt.Errorf("cannot re-arm the parent-death signal: %w", err)
	}
	if os.Getppid() != master {
		return fmt.Errorf("the master exited while this worker was starting")
	}
	log.Debug().Int("uid", id.UID).Int("gid", id.GID).Ints("groups", id.Groups).Msg("dropped privileges")
	return nil
}

// ownUnixSockets gives the unix sockets of --bind the mode that --umask
// leaves of 0777 and, with --user or --group, that owner, as Gunicorn
// does when it binds them; so a --umask 007 socket is usable by its
// group only. Sockets passed by systemd (fd://) keep what systemd gave
// them. Every worker does it (the first one to boot matters), while it
// still has the master's privileges.
func ownUnixSockets(cfg *config.Config, lns []net.Listener) error {
	id, err := sysuser.Resolve(cfg.User, cfg.Group, cfg.InitGroups)
	if err != nil {
		return err
	}
	bound := map[string]bool{}
	for _, b := range cfg.Bind {
		if path, ok := strings.CutPrefix(b, "unix:"); ok {
			bound[path] = true
		}
	}
	for _, ln := range lns {
		a, ok := ln.Addr().(*net.UnixAddr)
		if !ok || !bound[a.Name] {
			continue
		}
		if err := os.Chmod(a.Name, 0o777&^os.FileMode(cfg.Umask)); err != nil {
			return fmt.Errorf("unix socket %s: %w", a.Name, err)
		}
		if id.Switch {
			if err := os.Chown(a.Name, id.UID, id.GID); err != nil {
				return fmt.Errorf("unix socket %s: %w", a.Name, err)
			}
		}
	}
	return nil
}

// pythonAccessHint explains an interpreter that failed to start in a
// worker switched to --user: CPython then reads its standard library as
// that user, and a Python installed under a home directory (pyenv's
// ~/.pyenv, /root is mode 0700) is out of its reach, which CPython
// reports only as a missing codec. "" when nothing on the way to the
// interpreter is closed to the worker.
func pythonAccessHint(cfg *config.Config) string {
	python := pyshim.EmbeddedPython().Interpreter
	if cfg.User == "" || python == "" {
		return ""
	}
	var dirs []string // the interpreter's directory and its ancestors, the root last
	for d := filepath.Dir(python); ; d = filepath.Dir(d) {
		dirs = append(dirs, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if unix.Access(dirs[i], unix.X_OK) != nil {
			return fmt.Sprintf(" (the worker runs as user %q, which cannot enter %s on the way to the Python "+
				"installation of %s: install Python where that user can read it, or run the workers as another user)",
				cfg.User, dirs[i], python)
		}
	}
	return ""
}
