package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// --reload-extra-file: a change to a watched non-Python file (a template,
// a config) restarts the workers, as a .py change does.
func TestReloadExtraFile(t *testing.T) {
	dir := t.TempDir()
	extra := filepath.Join(dir, "settings.ini")
	if err := os.WriteFile(extra, []byte("a=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, serverOpts{args: []string{"--reload", "--reload-extra-file", extra, "basic:pid"}})
	before := s.workerPIDs()
	if err := os.WriteFile(extra, []byte("a=22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitForReplacedWorker(s, before)
	if code, _ := s.get("/"); code != 200 {
		t.Fatalf("after the reload: %d", code)
	}
}

// TestReloadDirsAndPatterns: Uvicorn's --reload-dir (here from
// UVICORN_RELOAD_DIRS, split as click splits it) and --reload-include
// reach the watcher: a template under the watched directory restarts the
// worker, and the reload names it. Which files are watched is
// TestReloadFilesAsUvicornPicksThem's (master).
func TestReloadDirsAndPatterns(t *testing.T) {
	watched := t.TempDir()
	page := filepath.Join(watched, "page.html")
	if err := os.WriteFile(page, []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, serverOpts{args: []string{"--reload", "--reload-include", "*.html", "basic:pid"},
		env: []string{"UVICORN_RELOAD_DIRS=" + watched + " " + filepath.Join(watched, "missing")}})
	if len(s.linesWhere(func(m string) bool { return strings.HasSuffix(m, "missing is not a directory; not watched") })) != 1 {
		t.Errorf("no notice that the missing --reload-dir is not watched; output:\n%s", s.output())
	}
	before := s.workerPIDs()
	if err := os.WriteFile(page, []byte("22"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitForReplacedWorker(s, before)
	if !strings.Contains(s.output(), "code changed: "+page) {
		t.Errorf("the reload does not name %s; output:\n%s", page, s.output())
	}
}

// waitForReplacedWorker waits until the one worker is not one of before:
// --reload restarted it.
func waitForReplacedWorker(s *server, before []int) {
	s.waitFor(func() bool {
		now := s.workerPIDs()
		return len(now) == 1 && !slices.Contains(before, now[0])
	})
}
