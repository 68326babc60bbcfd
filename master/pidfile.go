package master

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
)

// pidfile is the -p/--pid file. A master started by a USR2 upgrade
// writes PIDFILE.2 while the old master still owns PIDFILE, and renames
// it over PIDFILE once the old master has exited, as Gunicorn does.
// Used by the arbiter goroutine and, after the loop, by Run.
type pidfile struct {
	final string // PIDFILE; "" when no pidfile was asked for
	path  string // the file written: PIDFILE or PIDFILE.2
	pid   int
}

// writePidfile writes pid to path, or to path+".2" in a master started
// by USR2. The write is atomic: a reader never sees an empty file.
func writePidfile(path string, pid int, upgrading bool) (*pidfile, error) {
	pf := &pidfile{final: path, path: path, pid: pid}
	if path == "" {
		return pf, nil
	}
	if upgrading {
		pf.path = path + ".2"
	}
	tmp, err := os.CreateTemp(filepath.Dir(pf.path), filepath.Base(pf.path)+".tmp*")
	if err != nil {
		return nil, err
	}
	_, err = tmp.WriteString(strconv.Itoa(pid) + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), pf.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return nil, err
	}
	return pf, nil
}

// move writes the pidfile at path instead ("" for none), as PATH.2
// while an upgrade's old master still runs, and removes the old file
// (Gunicorn's reload unlinks the old pidfile and creates the new one).
// On error nothing changes.
func (pf *pidfile) move(path string) error {
	if path == pf.final {
		return nil
	}
	next, err := writePidfile(path, pf.pid, pf.path != pf.final)
	if err != nil {
		return err
	}
	pf.remove()
	*pf = *next
	return nil
}

// promote renames PIDFILE.2 over PIDFILE.
func (pf *pidfile) promote() error {
	if pf.final == "" || pf.path == pf.final {
		return nil
	}
	if err := os.Rename(pf.path, pf.final); err != nil {
		return err
	}
	pf.path = pf.final
	return nil
}

// remove deletes the file if it still names this process: after an
// upgrade the new master owns it.
func (pf *pidfile) remove() {
	if pf.final == "" {
		return
	}
	data, err := os.ReadFile(pf.path)
	if err == nil && string(bytes.TrimSpace(data)) == strconv.Itoa(pf.pid) {
		os.Remove(pf.path)
	}
}
