package pyshim

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeVenv lays out the files VirtualenvPython looks at.
func fakeVenv(t *testing.T, cfg string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "python"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if cfg != "" {
		if err := os.WriteFile(filepath.Join(dir, "pyvenv.cfg"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestVirtualenvPython(t *testing.T) {
	linked := LinkedVersion()
	other := "2.7"
	tests := []struct {
		name    string
		cfg     string
		wantErr string // "" for success
	}{
		{name: "python -m venv, same version", cfg: "home = /usr/bin\nversion = " + linked + ".99\n"},
		{name: "virtualenv's version_info", cfg: "home = /usr/bin\nversion_info = " + linked + ".1.final.0\n"},
		{name: "no version recorded", cfg: "home = /usr/bin\n"},
		{name: "another Python", cfg: "home = /usr/bin\nversion = " + other + ".18\n",
			wantErr: "is for Python " + other + " but gowsgi embeds Python " + linked},
		{name: "no pyvenv.cfg", wantErr: "not a virtualenv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := fakeVenv(t, tt.cfg)
			exe, err := VirtualenvPython(dir)
			if tt.wantErr == "" {
				if err != nil || exe != filepath.Join(dir, "bin", "python") {
					t.Fatalf("VirtualenvPython = %q, %v; want its bin/python", exe, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("VirtualenvPython error = %v; want one saying %q", err, tt.wantErr)
			}
		})
	}
	if _, err := VirtualenvPython(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, ErrNotVirtualenv) {
		t.Fatalf("a missing directory: %v; want ErrNotVirtualenv", err)
	}
}
