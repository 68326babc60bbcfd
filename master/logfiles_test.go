package master

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func owner(t *testing.T, path string) (uid, gid int) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

// handOver gives a log file to the worker user on USR1: a new one with
// the user's group, an existing one keeping its group (logrotate's
// create 0640 root adm), and never what a symbolic link points at.
func TestHandOverLogFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	const uid, gid = 65534, 65534
	dir := t.TempDir()

	created := filepath.Join(dir, "new.log")
	if err := handOver(created, uid, gid); err != nil {
		t.Fatal(err)
	}
	if u, g := owner(t, created); u != uid || g != gid {
		t.Errorf("a created log file is %d:%d; want %d:%d", u, g, uid, gid)
	}

	kept := filepath.Join(dir, "kept.log")
	if err := os.WriteFile(kept, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(kept, 0, 4); err != nil { // root:adm
		t.Fatal(err)
	}
	if err := handOver(kept, uid, gid); err != nil {
		t.Fatal(err)
	}
	if u, g := owner(t, kept); u != uid || g != 4 {
		t.Errorf("an existing log file is %d:%d; want %d:4 (its group kept)", u, g, uid)
	}

	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.log")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	if err := handOver(link, uid, gid); err != nil {
		t.Errorf("a log path that is a symbolic link: %v; want it left alone, silently", err)
	}
	if u, _ := owner(t, victim); u != 0 {
		t.Errorf("the file a link points at now belongs to %d", u)
	}
	dangling := filepath.Join(dir, "dangling.log")
	if err := os.Symlink(filepath.Join(dir, "made-by-usr1"), dangling); err != nil {
		t.Fatal(err)
	}
	if err := handOver(dangling, uid, gid); err != nil {
		t.Errorf("a dangling link: %v; want it left alone, silently", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "made-by-usr1")); !os.IsNotExist(err) {
		t.Errorf("a dangling link's target was created: %v", err)
	}
	if err := handOver("/dev/null", uid, gid); err != nil {
		t.Errorf("a device: %v", err)
	}
	if u, _ := owner(t, "/dev/null"); u != 0 {
		t.Errorf("/dev/null now belongs to %d", u)
	}
}
