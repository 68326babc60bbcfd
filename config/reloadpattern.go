package config

import (
	"fmt"
	"path"
	"strings"
)

// Uvicorn's --reload-include and --reload-exclude patterns, as its file
// filter matches them: Python's PurePath.match, each path component an
// fnmatch pattern.

// reloadPattern checks a pattern of reload_includes or reload_excludes.
func reloadPattern(item string) (string, error) {
	if item == "" {
		return "", fmt.Errorf("empty pattern")
	}
	for _, part := range strings.Split(strings.Trim(item, "/"), "/") {
		if _, err := path.Match(fnmatchPattern(part), ""); err != nil {
			return "", fmt.Errorf("%q is not a glob pattern", item)
		}
	}
	return item, nil
}

// MatchReloadPattern reports whether the file path p matches pattern as
// PurePath(p).match(pattern) does: a relative pattern matches the last
// components of p, an absolute one all of them.
//
//	("/app/views/a.py", "*.py") → true;  ("/app/t/x.html", "t/*.html") → true;  ("/app/x.py", "/x.py") → false
func MatchReloadPattern(p, pattern string) bool {
	want := strings.Split(strings.Trim(pattern, "/"), "/")
	have := strings.Split(strings.Trim(p, "/"), "/")
	if len(want) > len(have) || strings.HasPrefix(pattern, "/") && len(want) != len(have) {
		return false
	}
	for i := 1; i <= len(want); i++ {
		if ok, _ := path.Match(fnmatchPattern(want[len(want)-i]), have[len(have)-i]); !ok {
			return false
		}
	}
	return true
}

// fnmatchPattern turns one component of an fnmatch pattern into Go's
// path.Match syntax: a backslash is a plain character there, and a set
// is negated with "[!", not "[^".
func fnmatchPattern(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return strings.ReplaceAll(s, "[!", "[^")
}
