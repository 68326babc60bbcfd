package master

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gowsgi/gowsgi/config"
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

// codeWatch is what --reload looks at: under roots, the files an
// include pattern matches and no exclude does (Uvicorn's file filter;
// *.py by default), but in excludeDirs, virtualenvs, caches and hidden
// directories; and the extra files.
type codeWatch struct {
	roots, extra       []string
	includes, excludes []config.ReloadPattern
	excludeDirs        []string
}

// Uvicorn's defaults: a pattern given among the other list is dropped.
var (
	defaultReloadIncludes = []string{"*.py"}
	defaultReloadExcludes = []string{".*", ".py[cod]", ".sw.*", "~*"}
)

// newCodeWatch watches --reload-dir's directories, else the app's (base)
// and --pythonpath's, with --reload-include and --reload-exclude applied
// as Uvicorn applies them: an exclude naming a directory leaves it out.
// It returns a notice for each --reload-dir that is not a directory.
func newCodeWatch(cfg *config.Config, base string) (codeWatch, []string) {
	abs := func(p string) string {
		if !filepath.IsAbs(p) {
			p = filepath.Join(base, p)
		}
		return filepath.Clean(p)
	}
	w := codeWatch{extra: cfg.ReloadExtraFiles}
	var notices []string
	for _, d := range cfg.ReloadDirs {
		if fi, err := os.Stat(abs(d)); err != nil || !fi.IsDir() {
			notices = append(notices, "--reload-dir "+d+" is not a directory; not watched")
			continue
		}
		w.roots = append(w.roots, abs(d))
	}
	if len(w.roots) == 0 { // Uvicorn, too, falls back to its default then
		w.roots = []string{base}
		for _, p := range cfg.PythonPath {
			w.roots = append(w.roots, abs(p))
		}
	}
	for _, p := range defaultReloadIncludes {
		if !slices.Contains(cfg.ReloadExcludes, p) {
			w.includes = append(w.includes, config.NewReloadPattern(p))
		}
	}
	for _, p := range cfg.ReloadIncludes {
		w.includes = append(w.includes, config.NewReloadPattern(p))
	}
	for _, p := range defaultReloadExcludes {
		if !slices.Contains(cfg.ReloadIncludes, p) {
			w.excludes = append(w.excludes, config.NewReloadPattern(p))
		}
	}
	for _, p := range cfg.ReloadExcludes {
		if fi, err := os.Stat(abs(p)); err == nil && fi.IsDir() {
			w.excludeDirs = append(w.excludeDirs, abs(p))
		} else {
			w.excludes = append(w.excludes, config.NewReloadPattern(p))
		}
	}
	return w, notices
}

// wants is Uvicorn's FileFilter: a file an include pattern matches,
// unless an exclude does (or it is under an excluded directory), but
// for an include that spells the path's own ending.
func (w *codeWatch) wants(path string) bool {
	for _, inc := range w.includes {
		if !inc.Match(path) {
			continue
		}
		if strings.HasSuffix(path, inc.Text) {
			return true
		}
		for _, ex := range w.excludes {
			if ex.Match(path) {
				return false
			}
		}
		return true
	}
	return false
}

// watchCode sends evCodeChanged whenever a watched file is created,
// changed or removed, until done is closed.
func watchCode(w codeWatch, events chan<- event, done <-chan struct{}) {
	last := w.scan()
	t := time.NewTicker(reloadPoll)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		now := w.scan()
		changed := diffStamps(last, now)
		if changed == "" {
			continue
		}
		time.Sleep(reloadSettling)
		last = w.scan()
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

func (w *codeWatch) scan() map[string]fileStamp {
	out := make(map[string]fileStamp)
	for _, root := range w.roots {
		base := strings.Count(filepath.Clean(root), string(filepath.Separator))
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || len(out) >= maxWatchFiles {
				return filepath.SkipDir
			}
			if d.IsDir() {
				if path != root && (skipDir(path, d.Name()) || slices.Contains(w.excludeDirs, path)) ||
					strings.Count(path, string(filepath.Separator))-base > maxWatchDepth {
					return filepath.SkipDir
				}
				return nil
			}
			if w.wants(path) {
				stampFile(out, path)
			}
			return nil
		})
	}
	for _, f := range w.extra {
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
