package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Gunicorn's Python logging settings. The master never runs Python, so
// each worker's interpreter applies them before it loads the app
// (worker/pylogging.py), as Gunicorn's master does before it forks; the
// master checks here what it can without Python: the files are there,
// the JSON is an object.
var logConfigSettings = []*setting{
	{
		name: "logconfig_dict", flags: []string{"log-config-dict"}, kind: kindJSON, def: "",
		help:  "configure Python's logging with a logging.config.dictConfig dict, given as `JSON` (a dict in gunicorn.conf.py, a table in TOML)",
		field: func(c *Config) any { return &c.LogConfigDict },
	},
	{
		name: "logconfig_json", flags: []string{"log-config-json"}, kind: kindString, def: "",
		help:  "configure Python's logging with the dictConfig dict in the JSON `FILE`",
		field: func(c *Config) any { return &c.LogConfigJSON },
	},
	{
		name: "logconfig", flags: []string{"log-config"}, kind: kindString, def: "",
		help:  "configure Python's logging from `FILE` with logging.config.fileConfig (a .json, .yaml or .yml file: dictConfig, as Uvicorn does)",
		field: func(c *Config) any { return &c.LogConfig },
	},
}

// parseJSONObject parses a command-line --log-config-dict: a JSON
// object, kept in compact form; "" means none.
func parseJSONObject(v string) (any, error) {
	if strings.TrimSpace(v) == "" {
		return "", nil
	}
	m, err := decodeJSONObject([]byte(v))
	if err != nil {
		return nil, err
	}
	return compactJSON(m)
}

func decodeJSONObject(data []byte) (map[string]any, error) {
	var m map[string]any
	err := json.Unmarshal(data, &m)
	if err == nil && m == nil {
		err = errors.New("got null")
	}
	if err != nil {
		return nil, fmt.Errorf("want a JSON object such as {\"version\": 1, ...}: %w", err)
	}
	return m, nil
}

// compactJSON is m in JSON's compact form, keys sorted.
func compactJSON(m map[string]any) (any, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// checkLogConfig checks the log config files the workers will read: they
// exist (relative to --chdir, where the workers run), and a JSON one
// holds an object. Gunicorn's master reads them at start-up and stops on
// the same mistakes.
func checkLogConfig(c *Config) error {
	for _, f := range []struct{ path, flag string }{{c.LogConfigJSON, "--log-config-json"}, {c.LogConfig, "--log-config"}} {
		if f.path == "" {
			continue
		}
		data, err := os.ReadFile(c.inChdir(f.path))
		if err != nil {
			return &Error{Name: f.flag, Err: fmt.Errorf("log config %q: %w", f.path, pathless(err))}
		}
		if f.flag == "--log-config-json" || strings.EqualFold(filepath.Ext(f.path), ".json") {
			if _, err := decodeJSONObject(data); err != nil {
				return &Error{Name: f.flag, Err: fmt.Errorf("log config %q: %w", f.path, err)}
			}
		}
	}
	return nil
}
