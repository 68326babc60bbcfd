package integration

import (
	"cmp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pipPythons are the CPythons to pip install gowsgi with, one venv
// each: $GOWSGI_PYTHONS (space-separated), else python3 and every pyenv
// CPython 3.11+ present, each once.
func pipPythons(t *testing.T) []string {
	t.Helper()
	list := strings.Fields(os.Getenv("GOWSGI_PYTHONS"))
	if len(list) == 0 {
		list = []string{"python3"}
		if root, err := exec.Command("pyenv", "root").Output(); err == nil {
			found, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(root)), "versions", "3.1[1-9]*", "bin", "python3"))
			list = append(list, found...)
		}
	}
	seen := map[string]bool{}
	var pythons []string
	for _, p := range list {
		out, err := exec.Command(p, "-c", "import os, sys; print(os.path.realpath(sys.executable))").Output()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if real := strings.TrimSpace(string(out)); !seen[real] {
			seen[real] = true
			pythons = append(pythons, p)
		}
	}
	return pythons
}

// run runs a command in dir and returns its combined output, failing
// the test when it fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// pipInstall is pip install of the checkout into venv, offline: no index
// (nothing can be downloaded here) and no build isolation (the backend
// needs no package).
func pipInstall(venv, dir, target string, env []string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(venv, "bin", "python"), "-m", "pip", "install",
		"--no-build-isolation", "--no-index", "--no-cache-dir", "--disable-pip-version-check", target)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// TestPipInstallIntoVirtualenv, for each CPython: pip install builds
// gowsgi for the venv's interpreter and installs the command into the
// venv's bin/; it serves an app that imports a module only that venv has,
// with no --virtualenv, on the venv's Python, also as python -m gowsgi;
// pip uninstall removes it. The first CPython installs from the checkout
// (.), the others by path from another directory.
func TestPipInstallIntoVirtualenv(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for i, python := range pipPythons(t) {
		want := builtPythonOf(t, python)
		version, _, _ := strings.Cut(want.Version, " ")
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			venv := filepath.Join(dir, "venv")
			run(t, dir, nil, python, "-m", "venv", venv)
			vpython := filepath.Join(venv, "bin", "python")
			site := strings.TrimSpace(run(t, dir, nil, vpython, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"))
			if err := os.WriteFile(filepath.Join(site, "onlyhere.py"), []byte("MARK = 'from "+venv+"'\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				pipNeedsGo(t, venv, root)
			}
			install := pipInstall(venv, root, ".", nil)
			if i > 0 {
				install = pipInstall(venv, dir, root, nil)
			}
			if out, err := install.CombinedOutput(); err != nil {
				t.Fatalf("pip install: %v\n%s", err, out)
			}
			gowsgi := filepath.Join(venv, "bin", "gowsgi")
			out := run(t, dir, nil, gowsgi, "--version")
			if !strings.Contains(out, "CPython "+version+" (") || !strings.Contains(out, "built for "+filepath.Join(venv, "bin", "python")) {
				t.Fatalf("%s --version:\n%s\nwant CPython %s built for the venv's python", gowsgi, out, version)
			}

			for _, argv := range [][]string{{gowsgi}, {vpython, "-m", "gowsgi"}} {
				s := start(t, serverOpts{binary: argv[0], bare: true,
					args: append(argv[1:], "--chdir", appsDir, "-b", "127.0.0.1:0", "-w", "1", "pythons:app")})
				info := getInfo(t, s, "/onlyhere")
				if info.Mark != "from "+venv || info.Prefix != venv || info.Version != want.Version ||
					!strings.HasPrefix(info.Executable, filepath.Join(venv, "bin", "python")) {
					t.Fatalf("%v: the app saw %+v; want the venv %s on Python %q", argv, info, venv, want.Version)
				}
			}

			run(t, dir, nil, vpython, "-m", "pip", "uninstall", "-y", "--disable-pip-version-check", "gowsgi")
			if _, err := os.Stat(gowsgi); !os.IsNotExist(err) {
				t.Fatalf("after pip uninstall, %s: %v; want it gone", gowsgi, err)
			}
		})
	}
}

// pipNeedsGo: without Go on PATH, pip install fails with one line
// saying what to install.
func pipNeedsGo(t *testing.T, venv, root string) {
	t.Helper()
	tools := t.TempDir() // make, pkg-config and the C compiler, not go
	for _, tool := range []string{"make", "pkg-config", cmp.Or(os.Getenv("CC"), "gcc")} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(tools, tool)); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(venv, "bin") + string(os.PathListSeparator) + tools
	out, err := pipInstall(venv, root, ".", []string{"PATH=" + path}).CombinedOutput()
	want := "gowsgi: building gowsgi needs Go 1.26 or later"
	if err == nil || !strings.Contains(string(out), want) {
		t.Fatalf("pip install without go on PATH: %v; want a failure saying %q:\n%s", err, want, out)
	}
}
