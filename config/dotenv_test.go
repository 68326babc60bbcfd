package config

import (
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestEnvFile reads integration/testdata/dotenv/all.env as python-dotenv
// 0.21's load_dotenv does; the expected values are what it set in
// os.environ, given the same environment (TestEnvFileAsPythonDotenvReadsIt
// compares the two at run time).
func TestEnvFile(t *testing.T) {
	file, err := filepath.Abs("../integration/testdata/dotenv/all.env")
	if err != nil {
		t.Fatal(err)
	}
	environ := map[string]string{"GOWSGI_DOTENV_OUTER": "outer", "ALREADY_SET": "from the environment"}
	c := &Config{EnvFile: file}
	if err := applyEnvFile(c, func(k string) string { return environ[k] }); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range c.EnvFromFile(func(k string) (string, bool) { v, ok := environ[k]; return v, ok }) {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	want := map[string]string{
		"PLAIN": "value", "SPACED": "spaced value", "EXPORTED": "yes", "INDENTED": "1", "EMPTY": "",
		"EMPTY_QUOTED": "", "COMMENTED": "abc", "HASH_IN_VALUE": "a#b",
		"SINGLE": `single $PLAIN \n stays`, "SINGLE_INTERP": "value",
		"DOUBLE": "double\ttab\nnewline \"quoted\" \\ back", "ESCAPED_SINGLE": "it's",
		"MULTILINE": "line one\nline two", "QUOTED KEY": "qk", "INTERP": "value-fallback-",
		"FROM_ENV": "outer", "DEFAULT_EMPTY": "", "NOT_A_VAR": "$PLAIN ${PLAIN:x} ",
		"AFTER_KEY_ONLY": "", "DUP": "second", "AFTER_BAD": "still read", "UNICODE": "café ☕",
		"TRAILING_TAB": "tab", "CRLF": "crlf", "CRLF_A": "1", "CRLF_B": "two", "CR_C": "3",
	}
	if !maps.Equal(got, want) {
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if got[k] != want[k] {
				t.Errorf("%s = %q; want %q", k, got[k], want[k])
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s = %q; want it unset", k, got[k])
			}
		}
	}
	wantNotices := []string{
		"--env-file " + file + ": line 27: not a KEY=VALUE statement python-dotenv can read; skipped, as it does",
		"--env-file " + file + ": line 28: not a KEY=VALUE statement python-dotenv can read; skipped, as it does",
	}
	if !slices.Equal(c.Notices, wantNotices) {
		t.Errorf("notices %q; want %q", c.Notices, wantNotices)
	}
}

func TestDotenvEdges(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []dotenvBinding
		bad  []int
	}{
		// the regular expression's backtracking: with no closing quote
		// after it, the last \' closes the value, its backslash kept
		{`A='x\'`, []dotenvBinding{{key: "A", value: `x\`, hasValue: true, line: 1}}, nil},
		{`A='unclosed` + "\nB=1", []dotenvBinding{{key: "B", value: "1", hasValue: true, line: 2}}, []int{1}},
		{"exportX=1\nexport\tY=2", []dotenvBinding{{key: "exportX", value: "1", hasValue: true, line: 1},
			{key: "Y", value: "2", hasValue: true, line: 2}}, nil},
		{"A= #c\nB", []dotenvBinding{{key: "A", value: "#c", hasValue: true, line: 1}, {key: "B", line: 2}}, nil},
		{"=1\n''=2\nC=3", []dotenvBinding{{key: "C", value: "3", hasValue: true, line: 3}}, []int{1, 2}},
		{"\n\n  # only comments\n", nil, nil},
	} {
		got, bad := parseDotenv(tc.text)
		if !slices.Equal(got, tc.want) || !slices.Equal(bad, tc.bad) {
			t.Errorf("parseDotenv(%q) = %+v, bad %v; want %+v, bad %v", tc.text, got, bad, tc.want, tc.bad)
		}
	}
}

func TestEnvFileErrors(t *testing.T) {
	dir := inTempDir(t, "")
	os.WriteFile(filepath.Join(dir, "eq.env"), []byte("'A=B'=1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "latin1.env"), []byte("A=caf\xe9\n"), 0o644)
	for args, want := range map[string]string{
		"missing.env": `--env-file: "missing.env": no such file or directory`,
		"eq.env":      `--env-file: eq.env: line 1: "A=B"="1" cannot be an environment variable`,
		"latin1.env":  `--env-file: latin1.env: not UTF-8 text`,
	} {
		_, _, err := Load([]string{"--env-file", args, "app:app"}, env(nil), io.Discard)
		if err == nil || err.Error() != want {
			t.Errorf("--env-file %s: error %v; want %q", args, err, want)
		}
	}
}

// FuzzDotenv feeds arbitrary text to the .env parser. Invariants: no
// panic; every statement has a key and lines in order; written back as
// KEY="VALUE" (escaping \ and "), the statements parse to themselves,
// but for a value ending in a backslash, which python-dotenv's grammar
// cannot quote (its \" always escapes the quote).
func FuzzDotenv(f *testing.F) {
	all, err := os.ReadFile("../integration/testdata/dotenv/all.env")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{string(all), `A='x\'`, "A=\"a\\\"b\"\r\nexport B=${A:-x}", "'k'=v # c\n#\n=", "A='unclosed\nB=1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		bs, bad := parseDotenv(text)
		last := 0
		for _, b := range bs {
			if b.key == "" || b.line < last {
				t.Fatalf("binding %+v after line %d", b, last)
			}
			last = b.line
		}
		if !slices.IsSorted(bad) {
			t.Fatalf("bad lines %v", bad)
		}
		var out strings.Builder
		for _, b := range bs {
			if strings.HasSuffix(b.value, `\`) {
				return
			}
			if strings.Contains(b.key, "'") {
				out.WriteString(b.key)
			} else {
				out.WriteString("'" + b.key + "'")
			}
			if b.hasValue {
				out.WriteString(`="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(b.value) + `"`)
			}
			out.WriteString("\n")
		}
		again, bad := parseDotenv(out.String())
		if len(bad) > 0 || len(again) != len(bs) {
			t.Fatalf("written back as %q: %+v, bad %v; want %+v", out.String(), again, bad, bs)
		}
		for i := range bs {
			if again[i].key != bs[i].key || again[i].value != bs[i].value || again[i].hasValue != bs[i].hasValue {
				t.Fatalf("written back as %q: %+v; want %+v", out.String(), again[i], bs[i])
			}
		}
	})
}
