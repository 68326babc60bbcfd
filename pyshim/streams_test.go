package pyshim

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestInputOperations(t *testing.T) {
	body := []byte("line one\nline two\nthree\n\nlast")
	tests := []struct{ ops, want string }{
		{"read", `[b'line one\nline two\nthree\n\nlast']`},
		{"read:None", `[b'line one\nline two\nthree\n\nlast']`},
		{"read:-1", `[b'line one\nline two\nthree\n\nlast']`},
		{"read:4,read:0,read:5,read", `[b'line', b'', b' one\n', b'line two\nthree\n\nlast']`},
		{"readline,readline:4,readline,readline:100", `[b'line one\n', b'line', b' two\n', b'three\n']`},
		{"readlines", `[[b'line one\n', b'line two\n', b'three\n', b'\n', b'last']]`},
		{"readlines:10", `[[b'line one\n', b'line two\n']]`},
		{"readline,readlines:-1", `[b'line one\n', [b'line two\n', b'three\n', b'\n', b'last']]`},
		{"read:2,iter", `[b'li', [b'ne one\n', b'line two\n', b'three\n', b'\n', b'last']]`},
		{"readinto:6,readline", `[b'line o', b'ne\n']`},
		{"read,read,readline,readlines,read:3", `[b'line one\nline two\nthree\n\nlast', b'', b'', [], b'']`},
	}
	x := NewExchange(0)
	defer x.Close()
	for _, tt := range tests {
		t.Run(tt.ops, func(t *testing.T) {
			_, _, got, failed, tb := runEnv(t, x, environ("POST", "/input-ops", "OPS", tt.ops), body)
			if failed || got != tt.want {
				t.Fatalf("ops %s = %s; want %s %s", tt.ops, got, tt.want, tb)
			}
		})
	}
}

func TestInputWithoutBodyIsEmpty(t *testing.T) {
	x := NewExchange(0)
	defer x.Close()
	_, _, got, failed, tb := runEnv(t, x, environ("GET", "/input-ops", "OPS", "read,read:10,readline,readlines,iter"), nil)
	if want := `[b'', b'', b'', [], []]`; failed || got != want {
		t.Fatalf("got %s; want %s %s", got, want, tb)
	}
}

func TestInputBadArguments(t *testing.T) {
	x := NewExchange(0)
	defer x.Close()
	for _, ops := range []string{"read:1:2", "readline:x"} {
		_, _, _, failed, tb := runEnv(t, x, environ("POST", "/input-ops", "OPS", ops), []byte("b"))
		if !failed || !strings.Contains(tb, "Error") {
			t.Errorf("ops %s: failed=%v %s; want a Python error", ops, failed, tb)
		}
	}
}

// TestInputKeptAfterExchangeReadsEmpty: wsgi.input reads the caller's
// memory in place; once the exchange is done an app that kept the
// stream must see EOF, not whatever the buffer holds next.
func TestInputKeptAfterExchangeReadsEmpty(t *testing.T) {
	x := NewExchange(0)
	defer x.Close()
	body := []byte("first body")
	if _, _, _, failed, tb := runEnv(t, x, environ("POST", "/stash-input"), body); failed {
		t.Fatal(tb)
	}
	copy(body, "XXXXXXXXXX")
	_, _, got, failed, tb := run(t, x, "/read-stash", nil)
	if failed || got != "b''" {
		t.Fatalf("a kept wsgi.input read %s after its exchange; want b'' %s", got, tb)
	}
}

// errorSink collects what an Exchange's wsgi.errors logs.
type errorSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *errorSink) write(text string) {
	s.mu.Lock()
	s.lines = append(s.lines, text)
	s.mu.Unlock()
}

func TestErrorsStream(t *testing.T) {
	x := NewExchange(0)
	defer x.Close()
	var sink errorSink
	x.SetErrors(sink.write)
	if _, _, _, failed, tb := run(t, x, "/errors", nil); failed {
		t.Fatal(tb)
	}
	// Complete lines go out at once, together when written together; a
	// partial line waits for its newline, flush() or the end.
	want := []string{"partial line\nsecond", "third still third", "a", "b", "unterminated"}
	if strings.Join(sink.lines, "|") != strings.Join(want, "|") {
		t.Fatalf("wsgi.errors logged %q; want %q", sink.lines, want)
	}
	_, _, _, failed, tb := run(t, x, "/errors-bytes", nil)
	if !failed || !strings.Contains(tb, "must be str, not bytes") {
		t.Fatalf("bytes to wsgi.errors: failed=%v %s", failed, tb)
	}
}

func TestFileWrapperRegion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	content := strings.Repeat("0123456789", 10000)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	x := NewExchange(0)
	defer x.Close()
	tests := []struct {
		name       string
		extra      []string
		wantOffset int64
	}{
		{"whole file", []string{"SEEK", "0"}, 0},
		{"from the file's position", []string{"SEEK", "12345"}, 12345},
		{"buffered position, not the descriptor's", []string{"SEEK", "10", "READ", "5"}, 15},
		{"at the end: no region", []string{"SEEK", strconv.Itoa(len(content))}, int64(len(content))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step := x.Call(environ("GET", "/file", append([]string{"FILE", path}, tt.extra...)...), Body{})
			wantLen := int64(len(content)) - tt.wantOffset
			if wantLen == 0 {
				if !step.Done || step.File.Len != 0 || !step.HasHead {
					t.Fatalf("empty region: %+v", step)
				}
			} else {
				if step.Failed || !step.HasHead || step.Done || step.File.Offset != tt.wantOffset || step.File.Len != wantLen {
					t.Fatalf("step %+v; want a region at %d of %d bytes", step, tt.wantOffset, wantLen)
				}
				if step = x.Next(); !step.Done || step.Failed || len(step.Body) != 0 {
					t.Fatalf("after the region: %+v; want done", step)
				}
			}
			if _, _, got, _, _ := run(t, x, "/stash-closed", nil); got != "True" {
				t.Fatalf("the file is not closed after the response: closed=%s", got)
			}
		})
	}
}

func TestFileWrapperWithoutFilenoIsIterated(t *testing.T) {
	x := NewExchange(0)
	defer x.Close()
	_, _, got, failed, tb := run(t, x, "/file-bytesio", nil)
	if failed || got != strings.Repeat("0123456789", 10000) {
		t.Fatalf("failed=%v, %d bytes %s", failed, len(got), tb)
	}
	if _, _, closed, _, _ := run(t, x, "/stash-closed", nil); closed != "True" {
		t.Fatalf("the BytesIO was not closed: %s", closed)
	}
}

func TestAbortAfterFileRegionCloses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	os.WriteFile(path, []byte("some bytes"), 0o600)
	x := NewExchange(0)
	defer x.Close()
	step := x.Call(environ("GET", "/file", "FILE", path, "SEEK", "0"), Body{})
	if step.File.Len != 10 {
		t.Fatalf("step %+v; want a 10-byte region", step)
	}
	x.Abort()
	if _, _, got, _, _ := run(t, x, "/stash-closed", nil); got != "True" {
		t.Fatalf("closed=%s after Abort; want True", got)
	}
}
