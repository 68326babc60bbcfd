package pyshim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEmbeddedPython: the version is the linked libpython's, and a
// shared libpython is named exactly when the process has one mapped.
func TestEmbeddedPython(t *testing.T) {
	e := EmbeddedPython()
	if !strings.HasPrefix(e.Version, LinkedVersion()+".") {
		t.Errorf("Version = %q; want %s.N", e.Version, LinkedVersion())
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	shared := strings.Contains(string(maps), "/libpython")
	if shared != (e.Library != "") || (shared && !strings.Contains(string(maps), e.Library)) {
		t.Errorf("Library = %q; libpython mapped: %v", e.Library, shared)
	}
	if want := map[bool]string{true: "shared libpython ", false: "static libpython"}[shared]; !strings.Contains(e.String(), want) {
		t.Errorf("String() = %q; want it to say %q", e.String(), want)
	}
}

// TestDefaultExecutable: the interpreter baked in at build time is used
// only while it exists.
func TestDefaultExecutable(t *testing.T) {
	saved := builtFor
	defer func() { builtFor = saved }()
	python := filepath.Join(t.TempDir(), "python3")
	builtFor = python
	if got := defaultExecutable(); got != "" {
		t.Errorf("with %s missing: %q; want \"\"", python, got)
	}
	if err := os.WriteFile(python, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := defaultExecutable(); got != python {
		t.Errorf("with %s there: %q; want it", python, got)
	}
	builtFor = ""
	if got := defaultExecutable(); got != "" {
		t.Errorf("without a baked-in python: %q; want \"\"", got)
	}
}
