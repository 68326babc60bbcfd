package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLogConfigDictFromEverySource(t *testing.T) {
	const want = `{"loggers":{"app":{"level":"DEBUG"}},"version":1}`
	t.Run("command line", func(t *testing.T) {
		inTempDir(t, "")
		c, _, err := Load([]string{"--log-config-dict", `{"version": 1, "loggers": {"app": {"level": "DEBUG"}}}`, "a:b"},
			env(nil), &bytes.Buffer{})
		if err != nil || c.LogConfigDict != want {
			t.Fatalf("LogConfigDict = %q, %v; want %s", c.LogConfigDict, err, want)
		}
		if got := c.GunicornValues()["logconfig_dict"].(map[string]any)["version"]; got != float64(1) {
			t.Errorf("worker.cfg.logconfig_dict[version] = %v, want 1", got)
		}
	})
	t.Run("TOML table", func(t *testing.T) {
		inTempDir(t, "wsgi_app = \"a:b\"\n[logconfig_dict]\nversion = 1\n[logconfig_dict.loggers.app]\nlevel = \"DEBUG\"\n")
		c, _, err := Load(nil, env(nil), &bytes.Buffer{})
		if err != nil || c.LogConfigDict != want {
			t.Fatalf("LogConfigDict = %q, %v; want %s", c.LogConfigDict, err, want)
		}
	})
	t.Run("gunicorn.conf.py dict", func(t *testing.T) {
		c, err := loadWithReport(t, `{"names": [{"name": "logconfig_dict", "line": 2,
			"value": {"version": 1, "loggers": {"app": {"level": "DEBUG"}}}}]}`, "a:b")
		if err != nil || c.LogConfigDict != want {
			t.Fatalf("LogConfigDict = %q, %v; want %s", c.LogConfigDict, err, want)
		}
	})
	t.Run("unset", func(t *testing.T) {
		inTempDir(t, "")
		c, _, err := Load([]string{"a:b"}, env(nil), &bytes.Buffer{})
		if err != nil || c.LogConfigDict != "" {
			t.Fatalf("LogConfigDict = %q, %v; want none", c.LogConfigDict, err)
		}
		if got := c.GunicornValues()["logconfig_dict"]; len(got.(map[string]any)) != 0 {
			t.Errorf("worker.cfg.logconfig_dict = %v, want {} as in Gunicorn", got)
		}
	})
}

func TestPrintedLogConfigDictLoadsBack(t *testing.T) {
	inTempDir(t, "")
	c, _, err := Load([]string{"--log-config-dict", `{"version": 1, "root": {"level": "INFO", "handlers": ["h"]}}`, "a:b"},
		env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if back := printAndLoad(t, c); back.LogConfigDict != c.LogConfigDict {
		t.Fatalf("loaded back %q; want %q", back.LogConfigDict, c.LogConfigDict)
	}
}

// printAndLoad writes c as --print-config does, in the working
// directory, and loads the file back.
func printAndLoad(t *testing.T, c *Config) *Config {
	t.Helper()
	var out bytes.Buffer
	if err := c.WriteTOML(&out); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("printed.toml", out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, _, err := Load([]string{"-c", "printed.toml"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatalf("loading the printed config back: %v", err)
	}
	return back
}

func TestLogConfigMistakesAreRefused(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		want  string
	}{
		{name: "dict not JSON", args: []string{"--log-config-dict", "{version: 1}"},
			want: "--log-config-dict: want a JSON object"},
		{name: "dict a list", args: []string{"--log-config-dict", "[1]"},
			want: "--log-config-dict: want a JSON object"},
		{name: "missing ini file", args: []string{"--log-config", "logging.ini"},
			want: `--log-config: log config "logging.ini": no such file or directory`},
		{name: "missing JSON file", args: []string{"--log-config-json", "logging.json"},
			want: `--log-config-json: log config "logging.json": no such file or directory`},
		{name: "JSON file not an object", files: map[string]string{"logging.json": "[]"},
			args: []string{"--log-config-json", "logging.json"},
			want: `--log-config-json: log config "logging.json": want a JSON object`},
		{name: "empty JSON file", files: map[string]string{"logging.json": ""},
			args: []string{"--log-config-json", "logging.json"},
			want: `--log-config-json: log config "logging.json": want a JSON object`},
		{name: "Uvicorn's JSON file broken", files: map[string]string{"log.json": "{"},
			args: []string{"--log-config", "log.json"},
			want: `--log-config: log config "log.json": want a JSON object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inTempDir(t, "")
			for name, data := range tt.files {
				if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, _, err := Load(append(tt.args, "a:b"), env(nil), &bytes.Buffer{})
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v; want one line starting %q", err, tt.want)
			}
		})
	}
}

func TestLogConfigFilesAreFoundFromChdir(t *testing.T) {
	dir := inTempDir(t, "")
	app := filepath.Join(dir, "srv")
	if err := os.Mkdir(app, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"logging.ini": "[loggers]\nkeys=root\n", "logging.json": `{"version": 1}`} {
		if err := os.WriteFile(filepath.Join(app, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, _, err := Load([]string{"--chdir", app, "--log-config", "logging.ini", "--log-config-json", "logging.json", "a:b"},
		env(nil), &bytes.Buffer{})
	if err != nil || c.LogConfig != "logging.ini" || c.LogConfigJSON != "logging.json" {
		t.Fatalf("Load: %v (logconfig %q, logconfig_json %q)", err, c.LogConfig, c.LogConfigJSON)
	}
}

// A logconfig_dict holding objects only the file has is kept with their
// marks: the workers take the dict from the file (worker/pylogging.py).
func TestPythonObjectsInLogConfigDictAreKept(t *testing.T) {
	c, err := loadWithReport(t, `{"names": [{"name": "logconfig_dict", "line": 7, "value": {"version": 1,
		"filters": {"f": {"()": {"$py": "type", "repr": "<class '__config__.OnlyInfo'>"}}}}}]}`, "a:b")
	want := `{"filters":{"f":{"()":{"$py":"type","repr":"<class '__config__.OnlyInfo'>"}}},"version":1}`
	if err != nil || c.LogConfigDict != want {
		t.Fatalf("error %v, logconfig_dict %s; want %s", err, c.LogConfigDict, want)
	}
}
