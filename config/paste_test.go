package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPaste(t *testing.T) {
	dir := inTempDir(t, "")
	for name, text := range map[string]string{
		"production.ini": "[app:main]\nuse = egg:myapp\n\n[loggers]\nkeys = root\n",
		"plain.ini":      "[app:main]\nuse = egg:myapp\n",
		"logging.ini":    "[loggers]\nkeys = root\n",
	} {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	prod, plain := filepath.Join(dir, "production.ini"), filepath.Join(dir, "plain.ini")
	for _, tc := range []struct {
		args          []string
		app, logconf  string
		globalConfLen int
	}{
		{[]string{"--paste", "production.ini"}, "config:" + prod, prod, 0},
		{[]string{"--paste", "production.ini#api", "--paste-global", "ENV=prod", "--paste-global", `A\=B=c`}, "config:" + prod + "#api", prod, 2},
		{[]string{"--paste", "plain.ini"}, "config:" + plain, "", 0},
		{[]string{"--paster", "production.ini", "--log-config", "logging.ini"}, "config:" + prod, "logging.ini", 0},
		{[]string{"myapp:app", "--paste", prod}, "config:" + prod, prod, 0}, // --paste wins, as in Gunicorn
	} {
		c, _, err := Load(tc.args, env(nil), &bytes.Buffer{})
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if c.App != tc.app || c.LogConfig != tc.logconf || len(c.PasteGlobalConf) != tc.globalConfLen {
			t.Errorf("%q: app %q logconfig %q global %q; want %q %q and %d items",
				tc.args, c.App, c.LogConfig, c.PasteGlobalConf, tc.app, tc.logconf, tc.globalConfLen)
		}
	}

	// --print-config writes a file that loads back to the same.
	c, _, err := Load([]string{"--paste", "production.ini"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if back := printAndLoad(t, c); back.App != c.App {
		t.Errorf("loaded back: app %q, want %q", back.App, c.App)
	}

	for args, want := range map[string]string{
		"--paste missing.ini":                     `--paste: "missing.ini": no such file or directory`,
		"--paste production.ini --paste-global A": `--paste-global: "A" is not KEY=VALUE`,
	} {
		_, _, err := Load(strings.Fields(args), env(nil), &bytes.Buffer{})
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %s", args, err, want)
		}
	}
}
