package websocket

import (
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/ seed corpus files")

// transcript reads every event of data and describes them and the final
// error; it also checks the Reader's invariants on the way.
func transcript(t *testing.T, src io.Reader, dataLen, limit int, deflate *DeflateParams) string {
	r := NewReader(bufio.NewReaderSize(src, 16), ReaderOptions{MaxMessage: limit, Deflate: deflate})
	var b strings.Builder
	for {
		ev, err := r.Next()
		if cap(r.msg) > 2*dataLen+8192 {
			t.Fatalf("message buffer grew to %d bytes for %d bytes of input", cap(r.msg), dataLen)
		}
		if cap(r.out) > limit+1 {
			t.Fatalf("inflate buffer grew to %d bytes; limit %d", cap(r.out), limit)
		}
		if err != nil {
			var ce *CloseError
			switch {
			case errors.As(err, &ce):
				if !ce.Code.ValidOnWire() || len(ce.Reason) > MaxCloseReason {
					t.Fatalf("CloseError %v cannot be sent", ce)
				}
			case err == io.EOF, err == io.ErrUnexpectedEOF, err == ErrClosed:
			default:
				t.Fatalf("unexpected error %v", err)
			}
			fmt.Fprintf(&b, "error %v\n", err)
			return b.String()
		}
		switch ev.Op {
		case OpText, OpBinary:
			if len(ev.Data) > limit {
				t.Fatalf("message of %d bytes; limit %d", len(ev.Data), limit)
			}
			if ev.Op == OpText && !utf8.Valid(ev.Data) {
				t.Fatalf("text message not UTF-8: %q", ev.Data)
			}
		case OpPing, OpPong:
			if len(ev.Data) > MaxControlPayload {
				t.Fatalf("control payload of %d bytes", len(ev.Data))
			}
		case OpClose:
			if ev.Code != CloseNoStatus && !ev.Code.ValidOnWire() || !utf8.Valid(ev.Data) {
				t.Fatalf("close %d %q", ev.Code, ev.Data)
			}
		default:
			t.Fatalf("event with opcode %d", ev.Op)
		}
		fmt.Fprintf(&b, "%v %d %v %q\n", ev.Op, ev.Code, ev.Compressed, ev.Data)
	}
}

// FuzzReader feeds arbitrary client streams to the Reader, with and
// without permessage-deflate. Invariants: no panic; only a sendable
// *CloseError, io.EOF, io.ErrUnexpectedEOF or ErrClosed end the stream;
// events keep the rules (UTF-8 text, control payloads ≤ 125, messages
// within the limit, sendable close codes); buffers grow with the input
// or the limit, never with a claimed length; and feeding the same bytes
// one at a time or in random pieces gives the same events.
func FuzzReader(f *testing.F) {
	for _, tt := range rfc7692Examples {
		var in []byte
		for _, fr := range tt.frames {
			in = append(in, mask(fr)...)
		}
		f.Add(in, true, uint16(100))
	}
	f.Fuzz(func(t *testing.T, data []byte, deflate bool, limit uint16) {
		lim := int(limit) + 1
		var p *DeflateParams
		if deflate {
			p = &DeflateParams{ClientNoContextTakeover: limit&1 == 0}
		}
		whole := transcript(t, bytes.NewReader(data), len(data), lim, p)
		if got := transcript(t, iotest.OneByteReader(bytes.NewReader(data)), len(data), lim, p); got != whole {
			t.Fatalf("one byte at a time:\n%s\nwhole:\n%s", got, whole)
		}
		rs := &randomSplit{b: data, rng: rand.New(rand.NewPCG(3, uint64(len(data))))}
		if got := transcript(t, rs, len(data), lim, p); got != whole {
			t.Fatalf("random pieces:\n%s\nwhole:\n%s", got, whole)
		}
	})
}

// fuzzRequest turns bytes into a handshake request: the first line is
// the method, the rest "name: value" lines (a line without a colon is a
// name with an empty value).
func fuzzRequest(data []byte) Request {
	lines := strings.Split(string(data), "\n")
	h := header{}
	for _, l := range lines[1:] {
		name, value, _ := strings.Cut(l, ":")
		h[name] = append(h[name], trimOWS(value))
	}
	return Request{Method: lines[0], Major: 1, Minor: 1, Header: h.lookup}
}

// FuzzParseRequest checks arbitrary handshakes. Invariants: no panic; a
// refusal is a *HandshakeError with status 400 or 426; an accepted
// handshake has a valid key, token subprotocols and extensions, and its
// 101 response (with each subprotocol offered and the deflate answer
// negotiated) is a well-formed HTTP response that net/http reads back
// with the right Sec-WebSocket-Accept, and whose extension answer parses
// as an offer this package would accept again.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("GET\nHost: x\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\nSec-WebSocket-Protocol: chat, v2\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; server_max_window_bits=15"))
	f.Fuzz(func(t *testing.T, data []byte) {
		hs, err := ParseRequest(fuzzRequest(data))
		if err != nil {
			var he *HandshakeError
			if !errors.As(err, &he) || he.Status != 400 && he.Status != 426 {
				t.Fatalf("ParseRequest = %v", err)
			}
			return
		}
		if !validKey(hs.Key) {
			t.Fatalf("accepted key %q", hs.Key)
		}
		for _, p := range hs.Subprotocols {
			if !isToken(p) {
				t.Fatalf("subprotocol %q", p)
			}
		}
		for _, e := range hs.Extensions {
			if !isToken(e.Name) {
				t.Fatalf("extension %q", e.Name)
			}
			for _, p := range e.Params {
				if !isToken(p.Name) || p.HasValue && !isToken(p.Value) {
					t.Fatalf("extension param %+v", p)
				}
			}
		}
		choices := append([]string{""}, hs.Subprotocols...)
		params, ok := NegotiateDeflate(hs.Extensions, DeflateOptions{})
		for _, sub := range choices {
			resp := Response{Subprotocol: sub}
			if ok {
				resp.Deflate = &params
			}
			out, err := hs.AppendResponse(nil, resp)
			if err != nil {
				t.Fatalf("AppendResponse(%q) = %v", sub, err)
			}
			r, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
			if err != nil || r.StatusCode != 101 || r.Header.Get("Sec-WebSocket-Accept") != AcceptKey(hs.Key) ||
				r.Header.Get("Sec-WebSocket-Protocol") != sub {
				t.Fatalf("response %q: %v", out, err)
			}
			if ok {
				exts, good := parseExtensions(r.Header.Values("Sec-WebSocket-Extensions"))
				if !good {
					t.Fatalf("extension answer %q does not parse", r.Header.Get("Sec-WebSocket-Extensions"))
				}
				if _, again := NegotiateDeflate(exts, DeflateOptions{}); !again {
					t.Fatalf("extension answer %q is not acceptable", r.Header.Get("Sec-WebSocket-Extensions"))
				}
			}
		}
	})
}

// FuzzInflate checks both directions of permessage-deflate. Arbitrary
// bytes inflate without panic to at most the limit, or fail with
// ErrBadDeflate or ErrMessageTooBig; and data compressed by the Writer's
// deflater, as two messages with or without context takeover, inflates
// back to itself.
func FuzzInflate(f *testing.F) {
	for _, tt := range rfc7692Examples {
		f.Add(tt.frames[0][2:], false, uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, noContext bool, level uint8) {
		const limit = 4096 // small: the cost of an input is its output
		in := &inflater{noContext: noContext}
		out, err := in.inflate(nil, data, limit)
		if err != nil && err != ErrBadDeflate && err != ErrMessageTooBig || len(out) > limit+1 || cap(out) > limit+1 {
			t.Fatalf("inflate = %d bytes (cap %d), %v", len(out), cap(out), err)
		}
		lvl := int(level)%12 - 2 // flate levels -2..9
		d := &deflater{level: lvl, noContext: noContext}
		if !noContext {
			// A fresh flate.Writer is a megabyte: reuse one per level,
			// reset so that no state crosses from one input to the next.
			if fuzzWriters[lvl+2] == nil {
				fuzzWriters[lvl+2], _ = flate.NewWriter(io.Discard, lvl)
			}
			d.fw = fuzzWriters[lvl+2]
			d.fw.Reset(&d.sink)
		}
		rd := &inflater{noContext: noContext}
		half := len(data) / 2
		for _, msg := range [][]byte{data[:half], data[half:], data} {
			c := d.compress(nil, msg)
			got, err := rd.inflate(nil, c, 4*len(data)+16)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("level %d: round trip of %d bytes = %d bytes, %v", lvl, len(msg), len(got), err)
			}
		}
	})
}

// fuzzWriters are FuzzInflate's compressors with context, per level.
var fuzzWriters [12]*flate.Writer

// TestWriteFuzzSeeds writes the seed corpus under testdata/fuzz/ with
// -update-seeds (go test -run WriteFuzzSeeds -update-seeds); without it,
// it checks that the seeds on disk are the ones it would write.
func TestWriteFuzzSeeds(t *testing.T) {
	seeds := map[string]string{}
	add := func(target, name string, args ...any) {
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, a := range args {
			switch v := a.(type) {
			case []byte:
				b.WriteString("[]byte(" + strconv.Quote(string(v)) + ")\n")
			case bool:
				fmt.Fprintf(&b, "bool(%v)\n", v)
			case uint16:
				fmt.Fprintf(&b, "uint16(%d)\n", v)
			case uint8:
				fmt.Fprintf(&b, "uint8(%d)\n", v)
			}
		}
		seeds[filepath.Join(target, name)] = b.String()
	}
	for _, tt := range readerSeedCases() {
		add("FuzzReader", tt.name, tt.data, tt.deflate, uint16(200))
	}
	for name, req := range handshakeSeedCases {
		add("FuzzParseRequest", name, []byte(req))
	}
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write(bytes.Repeat([]byte("gowsgi "), 100))
	fw.Flush()
	add("FuzzInflate", "repeated-text", buf.Bytes(), false, uint8(3))
	add("FuzzInflate", "bomb", compressedPayload(make([]byte, 1<<16)), true, uint8(11))
	add("FuzzInflate", "stored-hello", []byte{0x00, 0x05, 0x00, 0xfa, 0xff, 'H', 'e', 'l', 'l', 'o', 0x00}, false, uint8(0))
	for path, content := range seeds {
		file := filepath.Join("testdata", "fuzz", path)
		if *updateSeeds {
			os.MkdirAll(filepath.Dir(file), 0o755)
			if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(file)
		if err != nil || string(got) != content {
			t.Errorf("seed %s is stale or missing (%v): go test -run WriteFuzzSeeds -update-seeds", file, err)
		}
	}
}

func compressedPayload(msg []byte) []byte {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write(msg)
	fw.Flush()
	return bytes.TrimSuffix(buf.Bytes(), syncMarker)
}

type readerSeed struct {
	name    string
	data    []byte
	deflate bool
}

func readerSeedCases() []readerSeed {
	k := [4]byte{1, 2, 3, 4}
	return []readerSeed{
		{"rfc6455-masked-hello", []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}, false},
		{"fragments-with-ping", frames(clientFrame(0x01, []byte("Hel"), k), clientFrame(0x89, []byte("p"), k), clientFrame(0x80, []byte("lo"), k)), false},
		{"close-with-reason", clientFrame(0x88, []byte("\x03\xe8bye"), k), false},
		{"text-utf8-split", frames(clientFrame(0x01, []byte("\xe2\x82"), k), clientFrame(0x80, []byte("\xac"), k)), false},
		{"binary-16bit-length", clientFrame(0x82, bytes.Repeat([]byte{7}, 300), k), false},
		{"compressed-hello", clientFrame(0xc1, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, k), true},
		{"compressed-fragments", frames(clientFrame(0x41, []byte{0xf2, 0x48, 0xcd}, k), clientFrame(0x80, []byte{0xc9, 0xc9, 0x07, 0x00}, k)), true},
		{"compressed-bomb", clientFrame(0xc2, compressedPayload(make([]byte, 1<<16)), k), true},
		{"unmasked", []byte{0x81, 0x02, 'h', 'i'}, false},
	}
}

var handshakeSeedCases = map[string]string{
	"valid-with-deflate": "GET\nHost: x\nUpgrade: websocket\nConnection: keep-alive, Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
	"quoted-params":      "GET\nHost: x\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=\"15\"; server_no_context_takeover, x-foo; a=\"b\\c\"",
	"subprotocols":       "GET\nHost: x\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\nSec-WebSocket-Protocol: chat, , superchat\nSec-WebSocket-Protocol: v2",
	"version-8":          "GET\nHost: x\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 8",
}
