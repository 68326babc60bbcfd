package master

import (
	"errors"
	"os"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/sysuser"
)

// prepareWorkerLogs creates the error and access log files the workers
// reopen on USR1, and hands them to --user/--group, while the master is
// still root. After a rotation that renamed them (logrotate without
// `create`, only `postrotate kill -USR1`), a worker running as the user
// cannot create them in a directory of root's, and went on writing into
// the rotated files; Gunicorn's workers get the files the master
// reopened. As at a worker's start (dropPrivileges), the files are the
// user's: the master's own error log, reopened just before as root,
// too.
func prepareWorkerLogs(cfg *config.Config) error {
	id, err := sysuser.Resolve(cfg.User, cfg.Group, cfg.InitGroups)
	if err != nil || !id.Switch || os.Geteuid() != 0 {
		return err
	}
	var errs []error
	for _, path := range []string{cfg.ErrorLog, cfg.AccessLog} {
		if path == "" || path == "-" {
			continue
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err == nil {
			err = f.Chown(id.UID, id.GID)
			f.Close()
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
