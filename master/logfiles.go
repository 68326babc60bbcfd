package master

import (
	"errors"
	"fmt"
	"os"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/sysuser"
	"golang.org/x/sys/unix"
)

// prepareWorkerLogs creates the error and access log files the workers
// reopen on USR1, and hands them to --user, while the master is still
// root. After a rotation that renamed them (logrotate without `create`,
// only `postrotate kill -USR1`), a worker running as the user cannot
// create them in a directory of root's, and went on writing into the
// rotated files; Gunicorn's workers get the files the master reopened.
//
// A file it creates gets the user and group a worker's start gives the
// log files (dropPrivileges); one that exists but is not the user's
// (logrotate's `create 0640 root adm`) gets the user only, its group
// kept. A symbolic link (/dev/stdout is one), or anything but a regular
// file, is left as it is: the master runs as root on a signal logrotate
// sends daily, and must not hand a file a link points at to the user.
func prepareWorkerLogs(cfg *config.Config) error {
	id, err := sysuser.Resolve(cfg.User, cfg.Group, cfg.InitGroups)
	if err != nil || !id.Switch || os.Geteuid() != 0 {
		return err
	}
	var errs []error
	for _, path := range []string{cfg.ErrorLog, cfg.AccessLog} {
		if path != "" && path != "-" {
			errs = append(errs, handOver(path, id.UID, id.GID))
		}
	}
	return errors.Join(errs...)
}

func handOver(path string, uid, gid int) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	created := false
	if errors.Is(err, unix.ENOENT) {
		fd, err = unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_CREAT|unix.O_EXCL, 0o644)
		created = err == nil
	}
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENXIO) {
		return nil // a symbolic link; a FIFO without a reader
	}
	if err != nil {
		return fmt.Errorf("log file %s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("log file %s: %w", path, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return nil
	case created:
		err = unix.Fchown(fd, uid, gid)
	case int(st.Uid) != uid:
		err = unix.Fchown(fd, uid, -1)
	}
	if err != nil {
		return fmt.Errorf("log file %s: %w", path, err)
	}
	return nil
}
