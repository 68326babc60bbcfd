package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

// underChdir makes the relative paths of the files and sockets the
// master opens relative to --chdir, where Gunicorn's master has changed
// to by then (Application.load_config ends with chdir()): the log files,
// the pidfile, unix socket binds and the TLS files. What Gunicorn reads
// before that, the config file and --paste, stays relative to the
// working directory (paste.go).
func underChdir(c *Config) error {
	if c.Chdir == "" {
		return nil
	}
	for _, p := range []*string{&c.AccessLog, &c.ErrorLog, &c.Pidfile, &c.CertFile, &c.KeyFile, &c.CACerts} {
		if *p != "" && *p != "-" {
			*p = c.inChdir(*p)
		}
	}
	for _, binds := range [][]string{c.Bind, c.PlainBind} {
		for i, b := range binds {
			path, ok := strings.CutPrefix(b, "unix:")
			if !ok || filepath.IsAbs(path) || strings.HasPrefix(path, "//") {
				continue
			}
			path = c.inChdir(path)
			if len(path) > unixPathMax {
				return &Error{Name: "--bind", Err: fmt.Errorf("%q under --chdir is %s, %d bytes; a unix socket path has at most %d",
					b, path, len(path), unixPathMax)}
			}
			binds[i] = "unix:" + path
		}
	}
	return nil
}

// inChdir is path as a process in --chdir finds it: a relative path
// under --chdir (the files a worker or Gunicorn's master opens there).
func (c *Config) inChdir(path string) string {
	if filepath.IsAbs(path) || c.Chdir == "" {
		return path
	}
	return filepath.Join(c.Chdir, path)
}
