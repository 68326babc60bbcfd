package accesslog

import (
	"encoding/binary"
	"fmt"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"
)

// atomValue is one decoded entry of AppendAtoms's encoding.
type atomValue struct {
	kind  byte
	value string
}

func (v atomValue) String() string { return fmt.Sprintf("%c:%q", v.kind, v.value) }

// decodeAtoms reads AppendAtoms's encoding into the dict Python builds
// from it (a later entry of a key replaces the earlier one's value)
// and the keys in the dict's order.
func decodeAtoms(t *testing.T, b []byte) (map[string]atomValue, []string) {
	t.Helper()
	dict := map[string]atomValue{}
	var order []string
	for len(b) > 0 {
		if len(b) < 3 {
			t.Fatalf("truncated entry head %q", b)
		}
		kind, klen := b[0], int(binary.NativeEndian.Uint16(b[1:]))
		b = b[3:]
		if len(b) < klen+4 {
			t.Fatalf("truncated key")
		}
		key := string(b[:klen])
		vlen := int(binary.NativeEndian.Uint32(b[klen:]))
		b = b[klen+4:]
		if len(b) < vlen {
			t.Fatalf("truncated value of %q", key)
		}
		if _, seen := dict[key]; !seen {
			order = append(order, key)
		}
		dict[key] = atomValue{kind, string(b[:vlen])}
		b = b[vlen:]
	}
	return dict, order
}

func pairs(kv ...string) iter.Seq2[[]byte, []byte] {
	b := make([][]byte, len(kv))
	for i, s := range kv {
		b[i] = []byte(s)
	}
	return func(yield func([]byte, []byte) bool) {
		for i := 0; i+1 < len(b); i += 2 {
			if !yield(b[i], b[i+1]) {
				return
			}
		}
	}
}

// atomsEntry is the request Gunicorn 26's sync worker logged as
//
//	curl -H 'User-Agent: ua"x' -H 'X-Dup: 1' -H 'X-Dup: 2' 'http://127.0.0.1:18001/p%20q?x=1'
//
// to a formatter printing record.args (the values below are its output).
func atomsEntry() *Entry {
	environ := map[string]string{"PATH_INFO": "/p q", "HTTP_USER_AGENT": `ua"x`, "REMOTE_ADDR": "127.0.0.1"}
	return &Entry{
		RemoteAddr: "127.0.0.1", Method: []byte("GET"), RawURI: []byte("/p%20q?x=1"), Path: []byte("/p%20q"),
		Query: []byte("x=1"), Proto: "HTTP/1.1", Status: 200, Bytes: 6, PID: 20747,
		Start:    time.Date(2026, 12, 7, 5, 21, 58, 999_900_000, time.UTC),
		Duration: 563*time.Microsecond + 999*time.Nanosecond,
		ReqHeader: func(n string) []byte {
			return map[string][]byte{"user-agent": []byte(`ua"x`), "authorization": []byte("Basic dXNlcjpwYXNz")}[n]
		},
		Environ:     func(k string) (string, bool) { v, ok := environ[k]; return v, ok },
		ReqHeaders:  pairs("Host", "127.0.0.1:18001", "User-Agent", `ua"x`, "X-Dup", "1", "X-Dup", "2"),
		RespHeaders: pairs("Content-Type", "text/plain", "Connection", "keep-alive", "X-Resp", "v1", "Upgrade", "h2c"),
		Vars:        pairs("PATH_INFO", "/p q", "wsgi.url_scheme", "http"),
	}
}

func TestAtomsAsGunicornGivesThemToLogging(t *testing.T) {
	dict, order := decodeAtoms(t, AppendAtoms(nil, atomsEntry(), false))
	want := map[string]atomValue{
		"h": {'s', "127.0.0.1"}, "l": {'s', "-"}, "u": {'u', "user"}, "t": {'s', "[07/Dec/2026:05:21:59 +0000]"},
		"r": {'s', "GET /p%20q?x=1 HTTP/1.1"}, "s": {'s', "200"}, "m": {'s', "GET"}, "U": {'s', "/p q"},
		"q": {'s', "x=1"}, "H": {'s', "HTTP/1.1"}, "b": {'s', "6"}, "B": {'i', "6"}, "f": {'s', "-"},
		"a": {'s', `ua"x`}, "T": {'i', "0"}, "D": {'i', "563"}, "M": {'i', "0"}, "L": {'s', "0.000563"},
		"p":       {'s', "<20747>"},
		"{host}i": {'s', "127.0.0.1:18001"}, "{user-agent}i": {'s', `ua"x`}, "{x-dup}i": {'s', "2"},
		"{content-type}o": {'s', "text/plain"}, "{x-resp}o": {'s', "v1"},
		"{path_info}e": {'s', "/p q"}, "{wsgi.url_scheme}e": {'s', "http"},
	}
	for k, w := range want {
		if got, ok := dict[k]; !ok || got != w {
			t.Errorf("%s = %v; want %v", k, got, w)
		}
	}
	for k, v := range dict {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected atom %s = %v (Gunicorn leaves hop-by-hop response fields out)", k, v)
		}
	}
	// Gunicorn's dict order: the letters, then request fields, response
	// fields and environ keys; a formatter dumping record.args shows it.
	if letters := strings.Join(order[:len(atoms)], ""); letters != atoms {
		t.Errorf("letter atoms in order %q; want %q", letters, atoms)
	}
	if !slices.Equal(order[len(atoms):], []string{"{host}i", "{user-agent}i", "{x-dup}i", "{content-type}o",
		"{x-resp}o", "{path_info}e", "{wsgi.url_scheme}e"}) {
		t.Errorf("named atoms in order %q", order[len(atoms):])
	}
}

// Gunicorn's asgi worker gives the status as an int and the app's
// response fields as they are, hop-by-hop ones included, and adds the
// Transfer-Encoding it frames the body with when the app gave no
// framing and the response may have a body.
func TestAtomsOfAnASGIRequest(t *testing.T) {
	dict, order := decodeAtoms(t, AppendAtoms(nil, atomsEntry(), true))
	for k, w := range map[string]atomValue{
		"s": {'i', "200"}, "{connection}o": {'s', "keep-alive"}, "{upgrade}o": {'s', "h2c"},
		"{transfer-encoding}o": {'s', "chunked"},
	} {
		if got := dict[k]; got != w {
			t.Errorf("%s = %v; want %v", k, got, w)
		}
	}
	if i := slices.Index(order, "{transfer-encoding}o"); order[i-1] != "{upgrade}o" {
		t.Errorf("{transfer-encoding}o follows %s; want it after the app's fields", order[i-1])
	}
	for _, tc := range []struct {
		name   string
		change func(e *Entry)
	}{
		{"HEAD", func(e *Entry) { e.Method = []byte("HEAD") }},
		{"304", func(e *Entry) { e.Status = 304 }},
		{"HTTP/1.0", func(e *Entry) { e.Proto = "HTTP/1.0" }},
		{"Content-Length", func(e *Entry) { e.RespHeaders = pairs("Content-Length", "6") }},
		{"no head", func(e *Entry) { e.RespHeaders = nil }},
	} {
		e := atomsEntry()
		tc.change(e)
		if dict, _ := decodeAtoms(t, AppendAtoms(nil, e, true)); dict["{transfer-encoding}o"].kind != 0 {
			t.Errorf("%s: {transfer-encoding}o = %v; want none", tc.name, dict["{transfer-encoding}o"])
		}
	}
}

// The atoms whose values differ from gowsgi's own line, each as
// Gunicorn computes it.
func TestAtomsWhereGunicornDiffersFromTheLine(t *testing.T) {
	e := atomsEntry()
	e.Bytes = 0
	e.Duration = 2*time.Second + 1_999_999*time.Nanosecond // 2.001999999 s
	e.ReqHeader = func(n string) []byte {
		if n == "authorization" {
			return []byte("Basic " + "w6l0w6k6cHc=") // "\xc3\xa9t\xc3\xa9:pw", UTF-8 "été"
		}
		return nil
	}
	e.Environ = func(string) (string, bool) { return "", false }
	dict, _ := decodeAtoms(t, AppendAtoms(nil, e, false))
	for k, w := range map[string]string{
		"b": "0",                            // str(resp.sent)
		"L": "2.001999",                     // "%d.%06d": truncated, not rounded
		"M": "2001",                         // whole milliseconds
		"t": "[07/Dec/2026:05:22:01 +0000]", // the record's time: the request's end
		"u": "été",                          // UTF-8
		"U": "/p%20q",                       // no PATH_INFO: the path as received
		"f": "-", "a": "-",                  // an environ without them
	} {
		if got := dict[k].value; got != w {
			t.Errorf("%s = %q; want %q", k, got, w)
		}
	}
	// A user name that is not UTF-8 is "-", as when Gunicorn fails to
	// decode it.
	e.ReqHeader = func(string) []byte { return []byte("Basic /3g6eQ==") } // "\xffx:y"
	if dict, _ := decodeAtoms(t, AppendAtoms(nil, e, false)); dict["u"] != (atomValue{'u', "-"}) {
		t.Errorf("u = %v; want \"-\"", dict["u"])
	}
}

// AppendAtoms allocates the state of its loops over the fields (range
// over a func value), never per field: a request with many fields costs
// no more allocations than one with few.
func TestAtomsAllocationsDoNotGrowWithFields(t *testing.T) {
	e, buf := atomsEntry(), make([]byte, 0, 1<<16)
	ua := []byte(`ua"x`)
	e.ReqHeader = func(n string) []byte { // without Authorization, whose decoding allocates
		if n == "user-agent" {
			return ua
		}
		return nil
	}
	e.Environ = func(string) (string, bool) { return "", false }
	few := testing.AllocsPerRun(100, func() { buf = AppendAtoms(buf[:0], e, false) })
	var many []string
	for i := range 100 {
		many = append(many, fmt.Sprintf("X-Field-%d", i), "value")
	}
	e.ReqHeaders, e.RespHeaders, e.Vars = pairs(many...), pairs(many...), pairs(many...)
	if n := testing.AllocsPerRun(100, func() { buf = AppendAtoms(buf[:0], e, false) }); n > few || few > 8 {
		t.Errorf("AppendAtoms allocates %v times with 300 fields, %v with 7; want at most 8 either way", n, few)
	}
}
