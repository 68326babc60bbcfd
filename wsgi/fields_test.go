package wsgi

import (
	"bufio"
	"fmt"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/httpparse"
)

// manyFields is a request of n distinct fields X-F0..X-Fn-1, then
// repeats of X-F1 (in another case) and of Cookie.
func manyFields(t testing.TB, n int) *httpparse.Request {
	var b strings.Builder
	b.WriteString("GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\n")
	for i := range n {
		fmt.Fprintf(&b, "X-F%d: v%d\r\n", i, i)
	}
	b.WriteString("x-f1: again\r\nCookie: b=2\r\nX-F1: third\r\n\r\n")
	limits := httpparse.DefaultLimits
	limits.Fields = 0 // Gunicorn's ceiling, 32768
	r := httpparse.NewReader(bufio.NewReader(strings.NewReader(b.String())), limits)
	var req httpparse.Request
	if err := r.ReadRequest(&req); err != nil {
		t.Fatal(err)
	}
	return &req
}

// Past fieldsScanned fields, repeats are found through the index: the
// same environ as by scanning.
func TestManyFieldsJoinLikeFew(t *testing.T) {
	for _, n := range []int{4, fieldsScanned + 1, 500} {
		var e Environ
		e.Build(manyFields(t, n), &testConn, -1)
		env := decode(t, e.Bytes())
		if got := env["HTTP_X_F1"]; got != "v1, again, third" {
			t.Errorf("%d fields: HTTP_X_F1 = %q; want the three joined", n, got)
		}
		if got := env["HTTP_COOKIE"]; got != "a=1; b=2" {
			t.Errorf("%d fields: HTTP_COOKIE = %q", n, got)
		}
		if got := env[fmt.Sprintf("HTTP_X_F%d", n-1)]; got != fmt.Sprintf("v%d", n-1) {
			t.Errorf("%d fields: the last distinct field is %q", n, got)
		}
		var a Environ
		a.BuildASGIAccess(manyFields(t, n), "127.0.0.1")
		if got := decode(t, a.Bytes())["HTTP_X_F1"]; got != "third" {
			t.Errorf("%d fields: access log's HTTP_X_F1 = %q; want the last", n, got)
		}
	}
}

// 32,768 distinct fields (what --limit-request-fields 0 allows) took
// 3.8 s to turn into an environ by scanning for repeats; so many are
// indexed.
func TestManyFieldsAreIndexed(t *testing.T) {
	if x := indexFields(manyFields(t, 32760).Headers); x.next == nil || x.repeat == nil {
		t.Fatal("32,768 fields are scanned for repeats")
	}
	if x := indexFields(manyFields(t, 4).Headers); x.next != nil {
		t.Fatal("a few fields are indexed (an allocation per request)")
	}
}

// BenchmarkEnvironManyFields: 32,768 distinct fields.
func BenchmarkEnvironManyFields(b *testing.B) {
	req := manyFields(b, 32760)
	var e Environ
	for b.Loop() {
		e.Build(req, &testConn, -1)
	}
}
