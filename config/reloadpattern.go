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
	for _, part := range NewReloadPattern(item).parts {
		if _, err := path.Match(part, ""); err != nil {
			return "", fmt.Errorf("%q is not a glob pattern", item)
		}
	}
	return item, nil
}

// ReloadPattern is a compiled --reload-include or --reload-exclude
// pattern, matched as PurePath(p).match(pattern) matches: a relative
// pattern matches the last components of p, an absolute one all of them.
//
//	("/app/views/a.py", "*.py") → true;  ("/app/t/x.html", "t/*.html") → true;  ("/app/x.py", "/x.py") → false
type ReloadPattern struct {
	Text  string   // as given
	parts []string // one path.Match pattern per component
	abs   bool
}

// NewReloadPattern compiles s, which reloadPattern accepted.
func NewReloadPattern(s string) ReloadPattern {
	rp := ReloadPattern{Text: s, abs: strings.HasPrefix(s, "/")}
	for _, part := range strings.Split(strings.Trim(s, "/"), "/") {
		rp.parts = append(rp.parts, fnmatchPattern(part))
	}
	return rp
}

// Match reports whether the file path p matches, component by component
// from the right (no allocation: the watcher asks for every file).
func (rp ReloadPattern) Match(p string) bool {
	p = strings.Trim(p, "/")
	for i := len(rp.parts) - 1; i >= 0; i-- {
		if p == "" {
			return false
		}
		j := strings.LastIndexByte(p, '/')
		if ok, _ := path.Match(rp.parts[i], p[j+1:]); !ok {
			return false
		}
		p = p[:max(j, 0)]
	}
	return !rp.abs || p == ""
}

// fnmatchPattern turns one component of an fnmatch pattern into Go's
// path.Match syntax: a backslash is a plain character there, and a set
// is negated with "[!", not "[^".
func fnmatchPattern(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return strings.ReplaceAll(s, "[!", "[^")
}
