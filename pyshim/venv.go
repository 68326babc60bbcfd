package pyshim

/*
#include "pyshim.h"
*/
import "C"

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrNotVirtualenv: the directory given as a virtualenv has no pyvenv.cfg.
var ErrNotVirtualenv = errors.New("pyshim: not a virtualenv (no pyvenv.cfg)")

// VirtualenvPython checks the virtualenv dir for use by the embedded
// interpreter and returns its bin/python, to be Options.Executable:
// CPython then finds the venv's pyvenv.cfg and site-packages as if that
// python had been run. A venv made for another major.minor than the
// linked libpython would load extension modules built for another ABI,
// so it is refused.
func VirtualenvPython(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	version, err := venvVersion(filepath.Join(abs, "pyvenv.cfg"))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w: %s", ErrNotVirtualenv, abs)
	}
	if err != nil {
		return "", err
	}
	if version != "" && majorMinor(version) != LinkedVersion() {
		return "", fmt.Errorf("pyshim: virtualenv %s is for Python %s but gowsgi embeds Python %s; "+
			"recreate it with python%s -m venv, or build gowsgi with PYTHON=python%s",
			abs, majorMinor(version), LinkedVersion(), LinkedVersion(), majorMinor(version))
	}
	exe := filepath.Join(abs, "bin", "python")
	if _, err := os.Stat(exe); err != nil {
		return "", fmt.Errorf("pyshim: virtualenv %s has no usable bin/python: %w", abs, err)
	}
	return exe, nil
}

// venvVersion reads the Python version a pyvenv.cfg records: "version"
// (python -m venv) or "version_info" (virtualenv), "" when neither is
// there.
//
//	"version = 3.11.7" → "3.11.7";  "version_info = 3.12.1.final.0" → "3.12.1.final.0"
func venvVersion(cfg string) (string, error) {
	f, err := os.Open(cfg)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "version", "version_info":
			return strings.TrimSpace(value), nil
		}
	}
	return "", sc.Err()
}

// majorMinor keeps the first two fields: "3.11.7" → "3.11".
func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// LinkedVersion is the major.minor of the libpython this binary embeds,
// e.g. "3.11".
func LinkedVersion() string {
	return strconv.Itoa(C.PY_MAJOR_VERSION) + "." + strconv.Itoa(C.PY_MINOR_VERSION)
}
