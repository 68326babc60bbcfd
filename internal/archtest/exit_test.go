package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"
)

// exits are the calls that end the process without unwinding: only a
// command (package main) makes them, so that every other package
// returns errors its caller can log, count or test (style.md).
var exits = map[string][]string{
	"os":                    {"Exit"},
	"syscall":               {"Exit"},
	"golang.org/x/sys/unix": {"Exit"},
	"log":                   {"Fatal", "Fatalf", "Fatalln"},
}

func TestOnlyCommandsExit(t *testing.T) {
	g := load(t)
	fset := token.NewFileSet()
	for _, p := range g.own {
		if p.Name == "main" {
			continue
		}
		for _, name := range append(p.GoFiles, p.CgoFiles...) {
			path := filepath.Join(p.Dir, name)
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			local := map[string]string{} // the file's name for each exiting package
			for _, imp := range f.Imports {
				ip, _ := strconv.Unquote(imp.Path.Value)
				if _, ok := exits[ip]; !ok {
					continue
				}
				n := filepath.Base(ip)
				if imp.Name != nil {
					n = imp.Name.Name
				}
				local[n] = ip
			}
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				id, ok := sel.X.(*ast.Ident)
				if !ok {
					return true
				}
				if ip, ok := local[id.Name]; ok {
					for _, fn := range exits[ip] {
						if sel.Sel.Name == fn {
							t.Errorf("%s: %s.%s in package %s: only a command (package main, cmd/gowsgi) ends the process; return an error",
								fset.Position(sel.Pos()), ip, fn, g.rel(p.ImportPath))
						}
					}
				}
				return true
			})
		}
	}
}
