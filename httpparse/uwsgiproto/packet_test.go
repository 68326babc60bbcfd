package uwsgiproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// encode builds a packet from key/value pairs, the way nginx does.
func encode(modifier1, modifier2 uint8, kv ...string) []byte {
	var block []byte
	for _, s := range kv {
		block = binary.LittleEndian.AppendUint16(block, uint16(len(s)))
		block = append(block, s...)
	}
	head := []byte{modifier1, 0, 0, modifier2}
	binary.LittleEndian.PutUint16(head[1:3], uint16(len(block)))
	return append(head, block...)
}

func get(kv ...string) []byte {
	return encode(0, 0, append([]string{"REQUEST_METHOD", "GET"}, kv...)...)
}

func TestReadPacketAccepts(t *testing.T) {
	tests := []struct {
		name          string
		packet        []byte
		wantModifier1 uint8
		wantVars      int
		wantLength    int64
	}{
		{name: "method only", packet: get(), wantVars: 1},
		{name: "empty value", packet: get("QUERY_STRING", ""), wantVars: 2},
		{name: "content length", packet: encode(0, 0, "REQUEST_METHOD", "POST", "CONTENT_LENGTH", "10485760"),
			wantVars: 2, wantLength: 10 << 20},
		{name: "empty content length as nginx sends it", packet: get("CONTENT_LENGTH", ""), wantVars: 2},
		{name: "repeated request header", packet: get("HTTP_COOKIE", "a=1", "HTTP_COOKIE", "b=2"), wantVars: 3},
		{name: "one Host beside the CGI vars", packet: get("HTTP_HOST", "a", "SERVER_NAME", "a", "CONTENT_TYPE", "t", "HTTP_CONTENT_TYPE", "t"), wantVars: 5},
		{name: "modifier1 30 manages PATH_INFO", packet: encode(30, 0, "REQUEST_METHOD", "GET", "SCRIPT_NAME", "/app"),
			wantModifier1: 30, wantVars: 2},
		{name: "latin-1 value", packet: get("PATH_INFO", "/caf\xe9"), wantVars: 2},
		{name: "magic var is still just a var", packet: get("UWSGI_SCRIPT", "evil:app"), wantVars: 2},
		{name: "content length up to int64, as the HTTP parser takes it", packet: get("CONTENT_LENGTH", "9223372036854775807"),
			wantVars: 2, wantLength: math.MaxInt64},
		{name: "content length with leading zeros", packet: get("CONTENT_LENGTH", "0000000000000000000042"), wantVars: 2, wantLength: 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, split := range splits(tt.packet) {
				var p Packet
				if err := ReadPacket(split.r, &p); err != nil {
					t.Fatalf("%s: %v", split.name, err)
				}
				if p.Modifier1 != tt.wantModifier1 || len(p.Vars) != tt.wantVars || p.ContentLength != tt.wantLength {
					t.Fatalf("%s: modifier1 %d, %d vars, length %d; want %d, %d, %d", split.name,
						p.Modifier1, len(p.Vars), p.ContentLength, tt.wantModifier1, tt.wantVars, tt.wantLength)
				}
				if len(p.Method) == 0 {
					t.Fatalf("%s: no method", split.name)
				}
			}
		})
	}
}

func TestReadPacketRefuses(t *testing.T) {
	full := get("PATH_INFO", "/")
	tests := []struct {
		name   string
		packet []byte
		want   error
	}{
		{name: "cut inside the header", packet: full[:3], want: ErrTruncated},
		{name: "cut inside the vars", packet: full[:len(full)-1], want: ErrTruncated},
		{name: "PSGI modifier1", packet: encode(5, 0, "REQUEST_METHOD", "GET"), want: ErrUnsupportedModifier},
		{name: "uWSGI ping modifier1", packet: encode(100, 0), want: ErrUnsupportedModifier},
		{name: "nonzero modifier2", packet: encode(0, 1, "REQUEST_METHOD", "GET"), want: ErrUnsupportedModifier2},
		{name: "key size past the end", packet: withBlock([]byte{0xff, 0x00, 'A'}), want: ErrVarOverrun},
		{name: "value size past the end", packet: withBlock([]byte{1, 0, 'A', 9, 0, 'x'}), want: ErrVarOverrun},
		{name: "dangling size byte", packet: withBlock(append(block("REQUEST_METHOD", "GET"), 1)), want: ErrVarOverrun},
		{name: "value size missing", packet: withBlock([]byte{1, 0, 'A'}), want: ErrVarOverrun},
		{name: "empty key", packet: get("", "x"), want: ErrInvalidKey},
		{name: "space in key", packet: get("PATH INFO", "/"), want: ErrInvalidKey},
		{name: "NUL in key", packet: get("PATH\x00INFO", "/"), want: ErrInvalidKey},
		{name: "high byte in key", packet: get("PATH_\xe9", "/"), want: ErrInvalidKey},
		{name: "two content lengths", packet: get("CONTENT_LENGTH", "0", "CONTENT_LENGTH", "50"), want: ErrDuplicateVar},
		{name: "two methods", packet: get("REQUEST_METHOD", "POST"), want: ErrDuplicateVar},
		{name: "two path infos", packet: get("PATH_INFO", "/a", "PATH_INFO", "/b"), want: ErrDuplicateVar},
		{name: "two Host headers", packet: get("HTTP_HOST", "a", "HTTP_HOST", "b"), want: ErrDuplicateVar},
		{name: "two Content-Type headers", packet: get("HTTP_CONTENT_TYPE", "text/plain", "HTTP_CONTENT_TYPE", "text/plain"), want: ErrDuplicateVar},
		{name: "two Content-Length headers", packet: get("HTTP_CONTENT_LENGTH", "5", "HTTP_CONTENT_LENGTH", "5"), want: ErrDuplicateVar},
		{name: "two bare HTTP_ vars (no header name)", packet: get("HTTP_", "a", "HTTP_", "b"), want: ErrDuplicateVar},
		{name: "no method", packet: encode(0, 0, "PATH_INFO", "/"), want: ErrMissingMethod},
		{name: "empty packet", packet: encode(0, 0), want: ErrMissingMethod},
		{name: "empty method", packet: encode(0, 0, "REQUEST_METHOD", ""), want: ErrInvalidMethod},
		{name: "method with space", packet: encode(0, 0, "REQUEST_METHOD", "GET /"), want: ErrInvalidMethod},
		{name: "negative content length", packet: get("CONTENT_LENGTH", "-1"), want: ErrInvalidContentLength},
		{name: "signed content length", packet: get("CONTENT_LENGTH", "+5"), want: ErrInvalidContentLength},
		{name: "hex content length", packet: get("CONTENT_LENGTH", "0x10"), want: ErrInvalidContentLength},
		{name: "spaced content length", packet: get("CONTENT_LENGTH", " 5"), want: ErrInvalidContentLength},
		{name: "content length over int64", packet: get("CONTENT_LENGTH", "9223372036854775808"), want: ErrInvalidContentLength},
		{name: "too many vars", packet: manyVars(MaxVars + 1), want: ErrTooManyVars},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, split := range splits(tt.packet) {
				var p Packet
				if err := ReadPacket(split.r, &p); !errors.Is(err, tt.want) {
					t.Fatalf("%s: ReadPacket = %v; want %v", split.name, err, tt.want)
				}
			}
		})
	}
}

func TestReadPacketCleanEOF(t *testing.T) {
	var p Packet
	if err := ReadPacket(bytes.NewReader(nil), &p); err != io.EOF {
		t.Fatalf("ReadPacket(empty) = %v; want io.EOF", err)
	}
}

func TestReadPacketLeavesBody(t *testing.T) {
	in := append(encode(0, 0, "REQUEST_METHOD", "POST", "CONTENT_LENGTH", "5"), "hello"...)
	r := bytes.NewReader(in)
	var p Packet
	if err := ReadPacket(r, &p); err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r)
	if string(body) != "hello" || p.ContentLength != 5 {
		t.Fatalf("body %q, ContentLength %d; want \"hello\", 5", body, p.ContentLength)
	}
}

func TestPacketReuseResetsFields(t *testing.T) {
	var p Packet
	if err := ReadPacket(bytes.NewReader(get("CONTENT_LENGTH", "7", "HTTP_HOST", "a")), &p); err != nil {
		t.Fatal(err)
	}
	if err := ReadPacket(bytes.NewReader(encode(0, 0, "REQUEST_METHOD", "HEAD")), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Vars) != 1 || p.ContentLength != 0 || string(p.Method) != "HEAD" {
		t.Fatalf("after reuse: %d vars, length %d, method %q", len(p.Vars), p.ContentLength, p.Method)
	}
	if _, ok := p.Get("HTTP_HOST"); ok {
		t.Fatal("a var of the previous packet survived")
	}
}

func TestGetReturnsFirst(t *testing.T) {
	var p Packet
	if err := ReadPacket(bytes.NewReader(get("HTTP_X", "1", "HTTP_X", "2")), &p); err != nil {
		t.Fatal(err)
	}
	if v, ok := p.Get("HTTP_X"); !ok || string(v) != "1" {
		t.Fatalf("Get(HTTP_X) = %q, %v", v, ok)
	}
	if _, ok := p.Get("HTTP_Y"); ok {
		t.Fatal("Get(HTTP_Y) found a var that was not sent")
	}
}

// TestCapturedPackets parses packets recorded from the real front ends
// (testdata/packets/*.uwsgi, written by the integration tests' capture
// helper) and checks what each must carry.
func TestCapturedPackets(t *testing.T) {
	files, _ := filepath.Glob("testdata/packets/*.uwsgi")
	if len(files) == 0 {
		t.Fatal("no captured packets in testdata/packets")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var p Packet
			r := bytes.NewReader(in)
			if err := ReadPacket(r, &p); err != nil {
				t.Fatal(err)
			}
			for _, key := range []string{"REQUEST_METHOD", "REQUEST_URI", "SERVER_PROTOCOL", "REMOTE_ADDR"} {
				if _, ok := p.Get(key); !ok {
					t.Errorf("no %s var", key)
				}
			}
			if rest := int64(r.Len()); rest != p.ContentLength {
				t.Errorf("%d bytes follow the packet; CONTENT_LENGTH says %d", rest, p.ContentLength)
			}
		})
	}
}

func TestReadPacketAllocations(t *testing.T) {
	in := get("PATH_INFO", "/x", "QUERY_STRING", "a=1", "HTTP_HOST", "example.com", "CONTENT_LENGTH", "0")
	r := bytes.NewReader(in)
	var p Packet
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(in)
		if err := ReadPacket(r, &p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Fatalf("ReadPacket allocates %.0f times per packet once warm; want 0", allocs)
	}
}

func block(kv ...string) []byte { return encode(0, 0, kv...)[headerSize:] }

// withBlock wraps a raw vars block in a header that claims its length.
func withBlock(b []byte) []byte {
	head := []byte{0, 0, 0, 0}
	binary.LittleEndian.PutUint16(head[1:3], uint16(len(b)))
	return append(head, b...)
}

func manyVars(n int) []byte {
	kv := []string{"REQUEST_METHOD", "GET"}
	for range n - 1 {
		kv = append(kv, "HTTP_X", "")
	}
	return encode(0, 0, kv...)
}

type split struct {
	name string
	r    io.Reader
}

// splits feeds one input whole, a byte at a time and in halves.
func splits(in []byte) []split {
	half := len(in) / 2
	return []split{
		{"whole", bytes.NewReader(in)},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(in))},
		{"halves", io.MultiReader(bytes.NewReader(in[:half]), bytes.NewReader(in[half:]))},
		{"data errors", iotest.DataErrReader(bytes.NewReader(in))},
	}
}

func BenchmarkReadPacketNginxGet(b *testing.B) {
	in := get("QUERY_STRING", "", "CONTENT_TYPE", "", "CONTENT_LENGTH", "", "REQUEST_URI", "/hello",
		"PATH_INFO", "/hello", "DOCUMENT_ROOT", "/usr/share/nginx/html", "SERVER_PROTOCOL", "HTTP/1.1",
		"REQUEST_SCHEME", "http", "REMOTE_ADDR", "127.0.0.1", "REMOTE_PORT", "51234", "SERVER_PORT", "80",
		"SERVER_NAME", "localhost", "HTTP_HOST", "localhost", "HTTP_USER_AGENT", strings.Repeat("x", 60),
		"HTTP_ACCEPT", "*/*")
	r := bytes.NewReader(in)
	var p Packet
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		r.Reset(in)
		if err := ReadPacket(r, &p); err != nil {
			b.Fatal(err)
		}
	}
}

// TestIsHeaderVar: wsgi's BuildUwsgi joins repeated header vars with
// the rule the packet check lets repeat, so the two can never disagree
// (they did on a bare "HTTP_").
func TestIsHeaderVar(t *testing.T) {
	for key, want := range map[string]bool{
		"HTTP_HOST": true, "HTTP_X": true, "HTTP_COOKIE": true,
		"HTTP_": false, "HTTP": false, "HTTPS": false, "http_host": false, "": false, "X_HTTP_HOST": false,
	} {
		if got := IsHeaderVar([]byte(key)); got != want {
			t.Errorf("IsHeaderVar(%q) = %v; want %v", key, got, want)
		}
	}
}
