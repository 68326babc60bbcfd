package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzDecodeFile feeds arbitrary documents to the config file loader.
// Invariants: no panic; a refused document gives an *Error naming the
// file; an accepted one prints (WriteTOML) to a document that loads back
// to the same Config.
func FuzzDecodeFile(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.toml")
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, "../examples/gowsgi.toml")
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		first := defaultConfig(t)
		if err := decodeFile(first, "fuzz.toml", data); err != nil {
			var e *Error
			if !errors.As(err, &e) || len(e.Source) < len("fuzz.toml") || e.Source[:len("fuzz.toml")] != "fuzz.toml" {
				t.Fatalf("error %q (%T) does not name the file", err, err)
			}
			return
		}
		var printed bytes.Buffer
		if err := first.WriteTOML(&printed); err != nil {
			t.Fatalf("WriteTOML: %v", err)
		}
		second := defaultConfig(t)
		if err := decodeFile(second, "printed.toml", printed.Bytes()); err != nil {
			t.Fatalf("printed config does not load: %v\n%s", err, printed.String())
		}
		first.SSLKeyfilePassword = ""                  // a secret: printed as a comment only
		first.formatFrom, second.formatFrom = nil, nil // the file names differ
		if !reflect.DeepEqual(first, second) {
			t.Fatalf("round trip changed the config:\nfirst  %+v\nsecond %+v", first, second)
		}
	})
}

func defaultConfig(t *testing.T) *Config {
	c := &Config{}
	if err := applyDefaults(c, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	return c
}

// FuzzCommandLine feeds arbitrary GUNICORN_CMD_ARGS values (shell-split
// as Gunicorn does) and the same words as a command line to Load: the
// scanner with Gunicorn's abbreviations, Uvicorn's flags, the ignored and
// refused settings. Invariants: no panic; a refusal is an *Error.
func FuzzCommandLine(f *testing.F) {
	for _, seed := range []string{
		"-w 4 -b 127.0.0.1:8000 app:app",
		"--host 0.0.0.0 --port 8000 --workers 2 --factory main:make",
		"--uds /run/a.sock --fd 3 --access-log --no-access-log --proxy-headers main:app",
		"--time 30 --keep 5 --timeout-keep-alive=7 --limit-max-requests 10 a:b",
		"--http2-cleartext prior-knowledge --dirty-app m:A --ws none a:b",
		`--env "A=b c" -e 'D=e' --root-path /api --log-level trace a:b`,
		"--control-socket /x --no-control-socket --http-protocols h2,h1 a:b",
		"-k asgi --loop auto --lifespan off --ws-max-size 10 -- a:b",
	} {
		f.Add(seed)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, value string) {
		t.Chdir(dir) // no config file here
		for _, load := range []func() error{
			func() error {
				_, _, err := Load(nil, env(map[string]string{envGunicornArgs: value}), &bytes.Buffer{})
				return err
			},
			func() error {
				words, err := shellSplit(value)
				if err != nil {
					return nil
				}
				_, _, err = Load(words, env(nil), &bytes.Buffer{})
				return err
			},
		} {
			if err := load(); err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("error %q (%T) is not an *Error", err, err)
				}
			}
		}
	})
}
