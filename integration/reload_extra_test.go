package integration

import (
	"os"
	"path/filepath"
	"slices"
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
	s.waitFor(func() bool {
		now := s.workerPIDs()
		return len(now) == 1 && !slices.Contains(before, now[0])
	})
	if code, _ := s.get("/"); code != 200 {
		t.Fatalf("after the reload: %d", code)
	}
}
