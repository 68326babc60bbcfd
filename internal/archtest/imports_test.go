package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The import rules. Paths are relative to the module; "x/..." is x and
// every package under it. A rule binds the package's own files and its
// tests' direct imports, and everything they reach through imports.

// never lists the never-arrows: from must not reach any of to.
var never = []struct {
	from string
	to   []string
	why  string
}{
	{"master/...", []string{"pyshim/...", "worker/...", "wsgi/...", "engine/..."},
		"the master is pure Go and never runs Python nor serves requests (design.md, Processes): " +
			"it builds with CGO_ENABLED=0, and its contract with the worker lives in handoff"},
	{"engine/...", []string{"pyshim/...", "worker/...", "master/..."},
		"the connection engine is pure Go: it reaches the application only through its App interface " +
			"(docs/engine.md), so it builds with CGO_ENABLED=0 and its tests run under -race against a Go app"},
	{"worker/...", []string{"master/..."},
		"master and worker are two processes sharing one contract, handoff, not each other's code"},
	{"config/...", []string{"master/...", "worker/...", "wsgi/...", "pyshim/...", "handoff/...", "proctitle/...", "engine/..."},
		"configuration sits below both processes and their contract: master, worker and handoff import config, " +
			"never the other way; config holds settings only"},
	{"handoff/...", []string{"master/...", "worker/...", "wsgi/...", "pyshim/...", "proctitle/...", "engine/..."},
		"handoff is the master↔worker contract: both processes import it, so it sits below both and, " +
			"like the master, never reaches Python"},
	{"proctitle/...", []string{"*"},
		"the process title is stdlib-only: the master, the workers and the zygote each set their own"},
	{"errorlog/...", []string{"*"},
		"the error log sits below everything that logs: config checks a level name with it, every process opens it"},
	{"sysuser/...", []string{"*"},
		"user and group lookup is stdlib-only: config checks a name with it and the worker switches to what it resolves"},
	{"wsgi/...", []string{"master/...", "worker/...", "engine/..."},
		"wsgi is the pure-Go PEP 3333 core under the worker"},
	{"pyshim/...", []string{"master/...", "worker/...", "wsgi/...", "engine/..."},
		"pyshim is the bottom of the worker: the C boundary, called by the worker and knowing nothing above it"},
	{"httpparse/...", []string{"*"},
		"the parsers are stdlib-only (docs/httpparse.md), so they can be fuzzed, raced and reused alone; " +
			"a parser under httpparse/ may build on httpparse"},
	{"accesslog/...", []string{"*"},
		"the access-log format is stdlib-only: config checks a format with it and the worker writes with it"},
	{"websocket/...", []string{"*"},
		"the WebSocket protocol is stdlib-only (docs/websocket.md): it knows nothing of Python, ASGI or the worker, " +
			"so the engine builds on it and it is fuzzed and raced alone"},
	{"hostport/...", []string{"*"},
		"the HOST:PORT syntax is stdlib-only: config and statsd, below both processes, read addresses with it"},
	{"pemkey/...", []string{"*"},
		"decrypting a key file is stdlib-only: config, in the pure-Go master, reads --keyfile with it, and it is fuzzed alone"},
	{"integration/...", []string{"*"},
		"the integration tests drive the real binary over real sockets, never the code it is built from"},
}

// stdlibOnly lists the packages that may import nothing outside the
// standard library but, for a parser, httpparse/... .
var stdlibOnly = []string{"httpparse/...", "accesslog/...", "hostport/...", "proctitle/...", "sysuser/...", "pemkey/...", "websocket/..."}

// cgoOwners are the only packages with cgo files ("import \"C\""):
// everything else builds with CGO_ENABLED=0 (design.md: master,
// httpparse and config must; keeping cgo in one place keeps every
// other package testable under -race and fuzzable alone).
var cgoOwners = []string{"pyshim/..."}

// pureGo are the packages that must build with CGO_ENABLED=0: nothing
// they reach may use cgo. `make vet` builds them so too.
var pureGo = []string{"master/...", "config/...", "handoff/...", "proctitle/...", "errorlog/...", "sysuser/...", "httpparse/...", "wsgi/...", "statsd/...", "accesslog/...", "hostport/...", "pemkey/...", "engine/...", "websocket/..."}

// pkg is the part of `go list -json` the rules read.
type pkg struct {
	ImportPath   string
	Dir          string
	Name         string
	Standard     bool
	ForTest      string
	GoFiles      []string
	CgoFiles     []string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Module       *struct{ Path string }
	Error        *struct{ Err string }
}

type graph struct {
	module string          // the module path
	pkgs   map[string]*pkg // every package of the build graph, tests' included
	own    []*pkg          // the module's packages, sorted
}

var (
	loadOnce sync.Once
	loaded   *graph
	loadErr  error
)

// load lists the module's packages and everything they and their tests
// import. CGO_ENABLED=1 so that cgo files are listed as CgoFiles, not
// left out by their build constraint.
func load(t *testing.T) *graph {
	t.Helper()
	loadOnce.Do(func() { loaded, loadErr = list() })
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return loaded
}

func goCmd(args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, errors.New("go " + strings.Join(args, " ") + ": " + err.Error() + ": " + stderr.String())
	}
	return out, nil
}

func list() (*graph, error) {
	out, err := goCmd("list", "-m", "-f", "{{.Path}}\n{{.Dir}}")
	if err != nil {
		return nil, err
	}
	module, dir, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	out, err = goCmd("list", "-C", dir, "-deps", "-test", "-json", "./...")
	if err != nil {
		return nil, err
	}
	g := &graph{module: module, pkgs: map[string]*pkg{}}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := new(pkg)
		if err := dec.Decode(p); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		// Test variants ("p [q.test]") and test mains ("p.test") repeat
		// what the plain package's Imports and TestImports say.
		if p.ForTest != "" || strings.HasSuffix(p.ImportPath, ".test") {
			continue
		}
		if p.Error != nil {
			return nil, errors.New(p.ImportPath + ": " + p.Error.Err)
		}
		g.pkgs[p.ImportPath] = p
		if g.rel(p.ImportPath) != "" {
			g.own = append(g.own, p)
		}
	}
	slices.SortFunc(g.own, func(a, b *pkg) int { return strings.Compare(a.ImportPath, b.ImportPath) })
	if len(g.own) == 0 {
		return nil, errors.New("go list found no package of module " + module)
	}
	return g, nil
}

// rel is path relative to the module, "" for a package outside it.
func (g *graph) rel(path string) string {
	if path == g.module {
		return "."
	}
	if r, ok := strings.CutPrefix(path, g.module+"/"); ok {
		return r
	}
	return ""
}

// match reports whether the module-relative path rel is pattern or,
// for "x/...", under x. "*" matches every package of the module.
func match(pattern, rel string) bool {
	if rel == "" {
		return false
	}
	if pattern == "*" {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == base || strings.HasPrefix(rel, base+"/")
	}
	return rel == pattern
}

func matchAny(patterns []string, rel string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, rel) })
}

// reach walks everything p and its tests import, breadth first, and
// returns, for each package reached, the chain of imports leading to it.
func (g *graph) reach(p *pkg) map[string][]string {
	chains := map[string][]string{p.ImportPath: {p.ImportPath}}
	queue := []string{p.ImportPath}
	first := true
	for len(queue) > 0 {
		cur := g.pkgs[queue[0]]
		queue = queue[1:]
		if cur == nil {
			continue
		}
		imports := cur.Imports
		if first { // the tests' imports count for the package itself only
			imports = slices.Concat(cur.Imports, cur.TestImports, cur.XTestImports)
			first = false
		}
		for _, imp := range imports {
			if _, seen := chains[imp]; seen || imp == "C" {
				continue
			}
			chains[imp] = append(slices.Clip(chains[cur.ImportPath]), imp)
			queue = append(queue, imp)
		}
	}
	return chains
}

func (g *graph) show(chain []string) string {
	parts := make([]string, len(chain))
	for i, c := range chain {
		if r := g.rel(c); r != "" {
			c = r
		}
		parts[i] = c
	}
	return strings.Join(parts, " → ")
}

func TestNeverArrows(t *testing.T) {
	g := load(t)
	for _, rule := range never {
		matched := false
		for _, p := range g.own {
			if !match(rule.from, g.rel(p.ImportPath)) {
				continue
			}
			matched = true
			from := g.rel(p.ImportPath)
			for path, chain := range g.reach(p) {
				to := g.rel(path)
				if to == "" || path == p.ImportPath {
					continue
				}
				if rule.to[0] == "*" && match(rule.from, to) {
					continue // within its own tree
				}
				if matchAny(rule.to, to) {
					t.Errorf("%s must never depend on %s, but: %s\n\t(%s)", from, to, g.show(chain), rule.why)
				}
			}
		}
		if !matched {
			t.Errorf("rule for %s matches no package: the rule or the package moved", rule.from)
		}
		for _, to := range rule.to {
			if to != "*" && !slices.ContainsFunc(g.own, func(p *pkg) bool { return match(to, g.rel(p.ImportPath)) }) {
				t.Errorf("rule %s ↛ %s: %s matches no package: the rule or the package moved", rule.from, to, to)
			}
		}
	}
}

func TestStdlibOnly(t *testing.T) {
	g := load(t)
	for _, p := range g.own {
		from := g.rel(p.ImportPath)
		if !matchAny(stdlibOnly, from) {
			continue
		}
		for path, chain := range g.reach(p) {
			q := g.pkgs[path]
			if q == nil || q.Standard || g.rel(path) != "" {
				continue // the module's own packages: TestNeverArrows
			}
			t.Errorf("%s imports only the standard library, but: %s", from, g.show(chain))
		}
	}
}

func TestCgo(t *testing.T) {
	g := load(t)
	owners := 0
	for _, p := range g.own {
		rel := g.rel(p.ImportPath)
		if matchAny(cgoOwners, rel) {
			owners += len(p.CgoFiles)
			continue
		}
		if len(p.CgoFiles) > 0 {
			t.Errorf("%s uses cgo (%s); only %s may: the rest builds with CGO_ENABLED=0",
				rel, strings.Join(p.CgoFiles, ", "), strings.Join(cgoOwners, ", "))
		}
	}
	if owners == 0 {
		t.Errorf("no cgo file found in %s: the listing is wrong (CGO_ENABLED?) or the rule is stale", strings.Join(cgoOwners, ", "))
	}
	for _, p := range g.own {
		from := g.rel(p.ImportPath)
		if !matchAny(pureGo, from) {
			continue
		}
		for path, chain := range g.reach(p) {
			q := g.pkgs[path]
			if q == nil || q.Standard || len(q.CgoFiles) == 0 {
				continue // the standard library's cgo (net, os/user) has pure-Go fallbacks
			}
			t.Errorf("%s must build with CGO_ENABLED=0, but reaches cgo: %s", from, g.show(chain))
		}
	}
}
