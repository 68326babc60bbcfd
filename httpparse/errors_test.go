package httpparse

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"sync"
	"testing"
)

var (
	declaredOnce sync.Once
	declared     map[Error]bool
)

// declaredErrors returns every Error literal written in errors.go. A
// refusal outside this set would have been built at run time, and could
// echo client input.
func declaredErrors(t testing.TB) map[Error]bool {
	declaredOnce.Do(func() {
		f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		declared = make(map[Error]bool)
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok || len(lit.Elts) != 2 {
				return true
			}
			if id, ok := lit.Type.(*ast.Ident); !ok || id.Name != "Error" {
				return true
			}
			status, err1 := strconv.Atoi(lit.Elts[0].(*ast.BasicLit).Value)
			reason, err2 := strconv.Unquote(lit.Elts[1].(*ast.BasicLit).Value)
			if err1 != nil || err2 != nil {
				t.Fatalf("Error literal not of the form {status, \"reason\"}: %v %v", err1, err2)
			}
			declared[Error{status, reason}] = true
			return true
		})
	})
	return declared
}

func TestDeclaredErrorsAreClientSafe(t *testing.T) {
	errs := declaredErrors(t)
	if len(errs) < 30 {
		t.Fatalf("found %d Error literals in errors.go; the scan is broken", len(errs))
	}
	for e := range errs {
		if e.Status < 400 || e.Status > 599 {
			t.Errorf("%+v: status is not an error status", e)
		}
		for _, c := range []byte(e.Reason) {
			if c < 0x20 || c > 0x7e {
				t.Errorf("%+v: reason has byte %#x; want printable ASCII", e, c)
			}
		}
	}
}

// TestCorpusErrorsAreDeclared runs every corpus input and checks that each
// refusal is one of the fixed errors of errors.go.
func TestCorpusErrorsAreDeclared(t *testing.T) {
	for name, in := range loadCorpus(t) {
		for _, lim := range []Limits{DefaultLimits, smallLimits} {
			t.Run(name, func(t *testing.T) { checkStreamInvariants(t, in, lim) })
		}
	}
}
