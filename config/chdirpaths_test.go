package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Relative paths follow Gunicorn's order: the master's files and
// sockets from --chdir (Gunicorn opens them after changing to it),
// --paste from the working directory (made absolute before), or from
// --chdir when only there.
func TestRelativePathsAndChdir(t *testing.T) {
	dir := inTempDir(t, "")
	proj := filepath.Join(dir, "proj")
	if err := os.Mkdir(proj, 0o755); err != nil {
		t.Fatal(err)
	}
	for path, text := range map[string]string{
		"here.ini":       "[app:main]\nuse = egg:here\n",
		"proj/there.ini": "[app:main]\nuse = egg:there\n",
		"proj/cert.pem":  "",
		"proj/ca.pem":    "",
		"proj/both.ini":  "[app:main]\n",
		"both.ini":       "[app:main]\n",
	} {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, _, err := Load(strings.Fields("--chdir proj --access-logfile a.log --error-logfile logs/e.log --pid p.pid "+
		"-b unix:run/s.sock -b 127.0.0.1:0 -b unix:/abs.sock --paste here.ini"), env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	in := func(p string) string { return filepath.Join(proj, p) }
	if c.AccessLog != in("a.log") || c.ErrorLog != in("logs/e.log") || c.Pidfile != in("p.pid") {
		t.Errorf("files: access %q error %q pid %q; want them under %s", c.AccessLog, c.ErrorLog, c.Pidfile, proj)
	}
	if strings.Join(c.Bind, " ") != "unix:"+in("run/s.sock")+" 127.0.0.1:0 unix:/abs.sock" {
		t.Errorf("binds %q", c.Bind)
	}
	if c.App != "config:"+filepath.Join(dir, "here.ini") {
		t.Errorf("--paste in the working directory: %q", c.App)
	}
	for paste, want := range map[string]string{"there.ini": in("there.ini"), "both.ini": filepath.Join(dir, "both.ini")} {
		c, _, err := Load([]string{"--chdir", "proj", "--paste", paste}, env(nil), &bytes.Buffer{})
		if err != nil || c.App != "config:"+want {
			t.Errorf("--paste %s with --chdir: %v %q; want %s", paste, err, c.App, want)
		}
	}
	// The stdout and stderr names stay; without --chdir nothing moves.
	c, _, err = Load(strings.Fields("--chdir proj --access-logfile - --error-logfile - --certfile cert.pem --ca-certs ca.pem --cert-reqs 2 a:b"), env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessLog != "-" || c.ErrorLog != "-" || c.CertFile != in("cert.pem") || c.CACerts != in("ca.pem") {
		t.Errorf("access %q error %q cert %q ca %q", c.AccessLog, c.ErrorLog, c.CertFile, c.CACerts)
	}
	c, _, err = Load(strings.Fields("--access-logfile a.log -b unix:s.sock a:b"), env(nil), &bytes.Buffer{})
	if err != nil || c.AccessLog != "a.log" || c.Bind[0] != "unix:s.sock" {
		t.Errorf("without --chdir: %v %q %q", err, c.AccessLog, c.Bind)
	}
}
