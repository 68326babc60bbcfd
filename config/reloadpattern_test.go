package config

import (
	"bytes"
	"testing"
)

// TestReloadPatternMatch: Python's PurePath.match, the cases checked
// against CPython 3.11.
func TestReloadPatternMatch(t *testing.T) {
	for _, tc := range []struct {
		path, pattern string
		want          bool
	}{
		{"/app/views/a.py", "*.py", true},
		{"/app/views/a.pyc", "*.py", false},
		{"/app/t/x.html", "t/*.html", true},
		{"/app/u/x.html", "t/*.html", false},
		{"/app/x.py", "/x.py", false},
		{"/x.py", "/x.py", true},
		{"/app/.env.py", ".*", true},
		{"/app/a.pyc", ".py[cod]", false},
		{"/app/~x.py", "~*", true},
		{"/app/b.py", "[!a].py", true},
		{"/app/a.py", "[!a].py", false},
		{`/app/a\b.py`, `a\b.py`, true},
		{"/app/a.py", "app/*/a.py", false},
	} {
		if got := NewReloadPattern(tc.pattern).Match(tc.path); got != tc.want {
			t.Errorf("NewReloadPattern(%q).Match(%q) = %v; want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}

func TestBadReloadPattern(t *testing.T) {
	_, _, err := Load([]string{"--reload-include", "[a-", "a:b"}, env(nil), &bytes.Buffer{})
	if err == nil || err.Error() != `--reload-include: "[a-" is not a glob pattern` {
		t.Errorf("error %v", err)
	}
}

// The watcher matches every file of the tree twice a second.
func TestReloadPatternMatchAllocatesNothing(t *testing.T) {
	rp := NewReloadPattern("templates/*.html")
	if n := testing.AllocsPerRun(100, func() { rp.Match("/srv/app/templates/index.html") }); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
}
