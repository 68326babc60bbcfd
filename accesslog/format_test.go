package accesslog

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func entry() *Entry {
	req := map[string]string{"user-agent": `evil"agent\` + "\n", "referer": "http://r/", "authorization": "Basic YWxpY2U6c2VjcmV0", "x-id": "42"}
	resp := map[string]string{"content-type": "text/plain"}
	return &Entry{
		RemoteAddr: "10.1.2.3", Method: []byte("GET"), RawURI: []byte("/p?q=1"), Path: []byte("/p"), Query: []byte("q=1"),
		Proto: "HTTP/1.1", Status: 200, Bytes: 13, PID: 77,
		Start:    time.Date(2026, 11, 25, 15, 43, 24, 0, time.UTC),
		Duration: 1500 * time.Microsecond,
		ReqHeader: func(n string) []byte {
			if v, ok := req[n]; ok {
				return []byte(v)
			}
			return nil
		},
		RespHeader: func(n string) []byte { return []byte(resp[n]) },
		Environ: func(k string) (string, bool) {
			if k == "REMOTE_USER" {
				return "bob", true
			}
			return "", false
		},
	}
}

func TestGunicornDefaultFormat(t *testing.T) {
	f, err := Parse(`%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`)
	if err != nil {
		t.Fatal(err)
	}
	got := string(f.Append(nil, entry()))
	want := `10.1.2.3 - alice [25/Nov/2026:15:43:24 +0000] "GET /p?q=1 HTTP/1.1" 200 13 "http://r/" "evil\x22agent\x5c\x0a"` + "\n"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestEveryAtom(t *testing.T) {
	tests := []struct{ format, want string }{
		{"%(T)s", "0"}, {"%(M)s", "1"}, {"%(D)s", "1500"}, {"%(L)s", "0.001500"},
		{"%(p)s", "<77>"}, {"%(U)s", "/p"}, {"%(q)s", "q=1"}, {"%(H)s", "HTTP/1.1"},
		{"%(m)s", "GET"}, {"%(B)s", "13"}, {"%({X-Id}i)s", "42"}, {"%({missing}i)s", "-"},
		{"%({Content-Type}o)s", "text/plain"}, {"%({REMOTE_USER}e)s", "bob"}, {"%({NOPE}e)s", "-"},
		{"100%% %(s)s", "100% 200"},
	}
	for _, tt := range tests {
		f, err := Parse(tt.format)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.format, err)
		}
		if got := strings.TrimSuffix(string(f.Append(nil, entry())), "\n"); got != tt.want {
			t.Errorf("%s = %q; want %q", tt.format, got, tt.want)
		}
	}
}

// TestPythonConversions: flags, width and precision of Python's
// %-formatting, which Gunicorn applies to its format; each want is what
// CPython 3.11 printed for the same format and Gunicorn's atom values.
func TestPythonConversions(t *testing.T) {
	for format, want := range map[string]string{
		"%(h)-15s|": "10.1.2.3       |", "%(h)15s|": "       10.1.2.3|", "%(D)8d|": "    1500|",
		"%(M)05d|": "00001|", "%(D)-6d|": "1500  |", "%(s).1s|": "2|", "%(T)+d|": "+0|", "%(T) d|": " 0|",
		"%(D).6d|": "001500|", "%(D)+08d|": "+0001500|", "%(h)05s|": "10.1.2.3|", "%(D)i %(B)u": "1500 13",
		"%(m)-5.2s|": "GE   |", "%({x-(i)d}i)s": "-",
	} {
		f, err := Parse(format)
		if err != nil {
			t.Errorf("Parse(%q): %v", format, err)
			continue
		}
		if got := strings.TrimSuffix(string(f.Append(nil, entry())), "\n"); got != want {
			t.Errorf("%s = %q; want %q", format, got, want)
		}
	}
	for format, want := range map[string]string{
		"%(s)d":  "%(s)d: s is text (Gunicorn fails on every request there); use %(s)s",
		"%(h)r":  `%(h)r: conversion 'r' is not supported: use s, or d for T, D, M and B`,
		"%(D)#x": `%(D)#x: conversion 'x' is not supported: use s, or d for T, D, M and B`,
		"%(h)-":  "%(h)-: no conversion",
	} {
		if _, err := Parse(format); err == nil || err.Error() != ErrBadFormat.Error()+": "+want {
			t.Errorf("Parse(%q) error %v; want %q", format, err, want)
		}
	}
}

func TestZeroBytesIsZeroForB(t *testing.T) {
	f, _ := Parse("%(b)s %(B)s")
	e := entry()
	e.Bytes = 0
	if got := string(f.Append(nil, e)); got != "0 0\n" {
		t.Fatalf("got %q", got)
	}
}

// A JSON template stays valid JSON whatever the client sends
// (gunicorn#2457).
func TestJSONTemplateIsEscaped(t *testing.T) {
	f, err := Parse(`{"remote": "%(h)s", "request": "%(r)s", "status": %(s)s, "agent": "%(a)s", "ref": "%(f)s"}`)
	if err != nil {
		t.Fatal(err)
	}
	e := entry()
	e.RawURI = []byte("/\x01\xff\"}")
	line := f.Append(nil, e)
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("line is not JSON: %v\n%s", err, line)
	}
	if m["agent"] != "evil\"agent\\\n" || m["status"].(float64) != 200 || m["request"] != "GET /\x01\u00ff\"} HTTP/1.1" {
		t.Fatalf("decoded %v", m)
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{"%(zz)s", "%(h)", "%h", "%({x}q)s"} {
		if _, err := Parse(bad); !errors.Is(err, ErrBadFormat) {
			t.Errorf("Parse(%q) = %v; want ErrBadFormat", bad, err)
		}
	}
}

// ParseOpen takes the atoms a logger class's atoms() may add, "-"
// where gowsgi writes the line; what is malformed stays an error.
func TestParseOpen(t *testing.T) {
	f, err := ParseOpen(`%(s)s %({start}c)s %(zz)d %(h)s`)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(f.Append(nil, entry())); got != "200 - - 10.1.2.3\n" {
		t.Errorf("line %q", got)
	}
	for _, bad := range []string{"%(h)", "%h", "%(h)d", "%(x)r"} {
		if _, err := ParseOpen(bad); !errors.Is(err, ErrBadFormat) {
			t.Errorf("ParseOpen(%q) = %v; want ErrBadFormat", bad, err)
		}
	}
}

// A line made elsewhere goes where the writer's own lines go: the file
// and the tee.
func TestWriteLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var teed []string
	w.Tee(func(line []byte) { teed = append(teed, string(line)) })
	f, _ := Parse("%(s)s")
	w.Log(f, entry())
	w.WriteLine([]byte(`{"status": 200}`))
	got, _ := os.ReadFile(path)
	if string(got) != "200\n{\"status\": 200}\n" || strings.Join(teed, "|") != `200|{"status": 200}` {
		t.Errorf("file %q, tee %q", got, teed)
	}
}

func TestWriterReopenAfterMove(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	f, _ := Parse("%(s)s")
	w.Log(f, entry())
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	w.Log(f, entry()) // still goes to the moved file, as with any open fd
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	w.Log(f, entry())
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if string(old) != "200\n200\n" || string(cur) != "200\n" {
		t.Fatalf("rotated %q, new %q", old, cur)
	}
}

func BenchmarkDefaultFormat(b *testing.B) {
	f, _ := Parse(`%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`)
	e := entry()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = f.Append(buf[:0], e)
	}
}

func TestUses(t *testing.T) {
	f, _ := Parse(`%(h)s "%({X-Id}i)s" %({Content-Type}o)s`)
	for atom, want := range map[byte]bool{'h': true, 'i': true, 'o': true, 'e': false, 's': false} {
		if got := f.Uses(atom); got != want {
			t.Errorf("Uses(%q) = %v; want %v", atom, got, want)
		}
	}
}

// FuzzParse feeds arbitrary formats to Parse and formats an entry with
// what it accepts. Invariants: no panic; a refusal wraps ErrBadFormat;
// a line ends with one newline.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{`%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`,
		"%(h)-15s %(D)+08d %(m).2s %%", "%({x-(a)}i)s %({Content-Type}o)s %({REMOTE_USER}e)s", "%(", "%(h)-"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, format string) {
		p, err := Parse(format)
		if err != nil {
			if !errors.Is(err, ErrBadFormat) {
				t.Fatalf("Parse(%q): %v does not wrap ErrBadFormat", format, err)
			}
			return
		}
		if line := p.Append(nil, entry()); len(line) == 0 || line[len(line)-1] != '\n' {
			t.Fatalf("Parse(%q) formats %q", format, line)
		}
	})
}

// %(L)s is Gunicorn's "%d.%06d" of the whole microseconds: truncated, as
// a float's formatting would not be.
func TestDecimalSecondsTruncate(t *testing.T) {
	f, _ := Parse("%(L)s %(D)s")
	e := entry()
	for d, want := range map[time.Duration]string{
		1999999500 * time.Nanosecond:        "1.999999 1999999",
		62*time.Second + 5*time.Microsecond: "62.000005 62000005",
	} {
		e.Duration = d
		if got := string(f.Append(nil, e)); got != want+"\n" {
			t.Errorf("%v: %q; want %q", d, got, want)
		}
	}
}
