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
		first.SSLKeyfilePassword = "" // a secret: printed as a comment only
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
