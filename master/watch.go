package master

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The --reload watcher polls file modification times: it needs no
// inotify watch per directory and sees edits on any file system.
const (
	reloadPoll     = 500 * time.Millisecond
	maxWatchFiles  = 20000 // a tree bigger than this is not an app's source
	maxWatchDepth  = 12
	reloadSettling = 100 * time.Millisecond // editors write a file in several steps
)

type fileStamp struct {
	mtime time.Time
	size  int64
}

// watchCode sends evCodeChanged whenever a .py file under roots (or one
// of extra) is created, changed or removed, until done is closed.
// Virtualenvs, caches and hidden directories are skipped.
func watchCode(roots, extra []string, events chan<- event, done <-chan struct{}) {
	last := scanCode(roots, extra)
	t := time.NewTicker(reloadPoll)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		now := scanCode(roots, extra)
		changed := diffStamps(last, now)
		if changed == "" {
			continue
		}
		time.Sleep(reloadSettling)
		last = scanCode(roots, extra)
		events <- event{kind: evCodeChanged, note: changed}
	}
}

// diffStamps returns one path that differs between two scans, or "".
func diffStamps(old, cur map[string]fileStamp) string {
	for p, s := range cur {
		if o, ok := old[p]; !ok || o != s {
			return p
		}
	}
	for p := range old {
		if _, ok := cur[p]; !ok {
			return p
		}
	}
	return ""
}

func scanCode(roots, extra []string) map[string]fileStamp {
	out := make(map[string]fileStamp)
	for _, root := range roots {
		base := strings.Count(filepath.Clean(root), string(filepath.Separator))
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || len(out) >= maxWatchFiles {
				return filepath.SkipDir
			}
			if d.IsDir() {
				if path != root && skipDir(path, d.Name()) ||
					strings.Count(path, string(filepath.Separator))-base > maxWatchDepth {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(d.Name(), ".py") {
				stampFile(out, path)
			}
			return nil
		})
	}
	for _, f := range extra {
		stampFile(out, f)
	}
	return out
}

func skipDir(path, name string) bool {
	switch {
	case strings.HasPrefix(name, "."), name == "__pycache__", name == "node_modules",
		name == "site-packages", name == "dist-packages":
		return true
	}
	_, err := os.Stat(filepath.Join(path, "pyvenv.cfg")) // a virtualenv
	return err == nil
}

func stampFile(out map[string]fileStamp, path string) {
	if fi, err := os.Stat(path); err == nil {
		out[path] = fileStamp{mtime: fi.ModTime(), size: fi.Size()}
	}
}
