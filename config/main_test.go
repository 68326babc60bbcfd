package config

import (
	"errors"
	"os"
	"testing"
)

// TestMain keeps Load from executing Python config files: this test
// binary embeds no Python (integration/pyconfig_test.go tests the real
// reader through bin/gowsgi). Tests of the Go side give decodePython
// the reader's JSON.
func TestMain(m *testing.M) {
	pythonConfigReader = func(spec, _ string) (*pyResult, error) {
		return nil, errors.New("config tests do not execute Python config files")
	}
	os.Exit(m.Run())
}
