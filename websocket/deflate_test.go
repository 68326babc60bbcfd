package websocket

import (
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestNegotiateDeflate(t *testing.T) {
	tests := []struct {
		name   string
		offer  string // Sec-WebSocket-Extensions
		opts   DeflateOptions
		want   string // the answer; "" when declined
		wantNT bool   // ClientNoContextTakeover of the result
	}{
		{name: "bare offer", offer: "permessage-deflate", want: "permessage-deflate"},
		{name: "browsers' offer", offer: "permessage-deflate; client_max_window_bits", want: "permessage-deflate"},
		{name: "client window 10 is read by flate", offer: "permessage-deflate; client_max_window_bits=10", want: "permessage-deflate"},
		{name: "server_no_context_takeover honoured", offer: "permessage-deflate; server_no_context_takeover",
			want: "permessage-deflate; server_no_context_takeover"},
		{name: "client_no_context_takeover answered", offer: "permessage-deflate; client_no_context_takeover",
			want: "permessage-deflate; client_no_context_takeover", wantNT: true},
		{name: "server window 15 answered", offer: "permessage-deflate; server_max_window_bits=15",
			want: "permessage-deflate; server_max_window_bits=15"},
		{name: "server window quoted 15", offer: `permessage-deflate; server_max_window_bits="15"`,
			want: "permessage-deflate; server_max_window_bits=15"},
		{name: "options force no context takeover", offer: "permessage-deflate",
			opts: DeflateOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true},
			want: "permessage-deflate; server_no_context_takeover; client_no_context_takeover", wantNT: true},
		{name: "server window 10 cannot be honoured", offer: "permessage-deflate; server_max_window_bits=10"},
		{name: "server window without value", offer: "permessage-deflate; server_max_window_bits"},
		{name: "window 16", offer: "permessage-deflate; client_max_window_bits=16"},
		{name: "window 7", offer: "permessage-deflate; client_max_window_bits=7"},
		{name: "window with leading zero", offer: "permessage-deflate; server_max_window_bits=015"},
		{name: "window not a number", offer: "permessage-deflate; client_max_window_bits=ab"},
		{name: "no_context_takeover with value", offer: "permessage-deflate; server_no_context_takeover=1"},
		{name: "unknown parameter", offer: "permessage-deflate; foo"},
		{name: "parameter twice", offer: "permessage-deflate; client_max_window_bits; client_max_window_bits"},
		{name: "other extension only", offer: "x-webkit-deflate-frame"},
		{name: "first acceptable offer wins",
			offer: "permessage-deflate; server_max_window_bits=10, permessage-deflate; client_no_context_takeover, permessage-deflate",
			want:  "permessage-deflate; client_no_context_takeover", wantNT: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exts, ok := parseExtensions([]string{tt.offer})
			if !ok {
				t.Fatalf("parseExtensions(%q) failed", tt.offer)
			}
			p, ok := NegotiateDeflate(exts, tt.opts)
			got := ""
			if ok {
				got = p.String()
			}
			if got != tt.want || ok && p.ClientNoContextTakeover != tt.wantNT {
				t.Errorf("NegotiateDeflate(%q) = %q (%+v); want %q", tt.offer, got, p, tt.want)
			}
			if ok && (p.Level != 1 || p.MinSize != 128) {
				t.Errorf("defaults not applied: %+v", p)
			}
		})
	}
}

// rfc7692Examples are the compressed messages of RFC 7692 §7.2.3, as the
// unmasked frames given there; deflateFrames masks them as a client would.
var rfc7692Examples = []struct {
	name   string
	frames [][]byte
	want   []string // messages, in order (one connection, context kept)
}{
	{name: "7.2.3.1 a message compressed in one frame",
		frames: [][]byte{{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}},
		want:   []string{"Hello"}},
	{name: "7.2.3.1 a message compressed in two fragments",
		frames: [][]byte{{0x41, 0x03, 0xf2, 0x48, 0xcd}, {0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00}},
		want:   []string{"Hello"}},
	{name: "7.2.3.2 sharing the LZ77 window",
		frames: [][]byte{{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, {0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00}},
		want:   []string{"Hello", "Hello"}},
	{name: "7.2.3.3 a stored block",
		frames: [][]byte{{0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}},
		want:   []string{"Hello"}},
	{name: "7.2.3.4 BFINAL set",
		frames: [][]byte{{0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}},
		want:   []string{"Hello"}},
	{name: "7.2.3.5 two DEFLATE blocks in one message",
		frames: [][]byte{{0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}},
		want:   []string{"Hello"}},
	{name: "7.2.3.6 an empty message",
		frames: [][]byte{{0xc1, 0x01, 0x00}},
		want:   []string{""}},
}

// mask turns an unmasked frame with a 7-bit length into a client's.
func mask(frame []byte) []byte {
	return clientFrame(frame[0], frame[2:], key)
}

func TestRFC7692Examples(t *testing.T) {
	for _, tt := range rfc7692Examples {
		for _, noContext := range []bool{false, true} {
			if noContext && len(tt.want) > 1 {
				continue // 7.2.3.2 needs the context
			}
			var in []byte
			for _, f := range tt.frames {
				in = append(in, mask(f)...)
			}
			r := newTestReader(bytes.NewReader(in), ReaderOptions{Deflate: &DeflateParams{ClientNoContextTakeover: noContext}})
			evs, err := readAll(r)
			if err != io.EOF || len(evs) != len(tt.want) {
				t.Fatalf("%s: %d events, %v", tt.name, len(evs), err)
			}
			for i, ev := range evs {
				if ev.Op != OpText || string(ev.Data) != tt.want[i] || !ev.Compressed {
					t.Errorf("%s: message %d = %v %q compressed %v; want text %q", tt.name, i, ev.Op, ev.Data, ev.Compressed, tt.want[i])
				}
			}
		}
	}
}

// Go's flate at its default level compresses "Hello" to the bytes of RFC
// 7692 §7.2.3.1, and with context takeover the second "Hello" refers
// back to the first (3 bytes; §7.2.3.2 shows zlib's 5). At BestSpeed, the
// default, a message this short goes as the stored block of §7.2.3.3.
func TestWriterCompressesHelloAsRFC7692(t *testing.T) {
	w, err := NewWriter(&DeflateParams{Level: flate.DefaultCompression, MinSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	first := w.AppendMessage(nil, OpText, []byte("Hello"))
	if want := []byte{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}; !bytes.Equal(first, want) {
		t.Errorf("first Hello = % x; want % x", first, want)
	}
	second := w.AppendMessage(nil, OpText, []byte("Hello"))
	if second[0] != 0xc1 || len(second) >= len(first) {
		t.Errorf("second Hello = % x; want an RSV1 text frame shorter than the first", second)
	}
	w, _ = NewWriter(&DeflateParams{Level: flate.BestSpeed, MinSize: 1})
	stored := w.AppendMessage(nil, OpText, []byte("Hello"))
	if want := []byte{0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}; !bytes.Equal(stored, want) {
		t.Errorf("BestSpeed Hello = % x; want % x", stored, want)
	}
}

// What the Writer compresses, the Reader inflates, over many messages
// with and without context takeover, and messages under MinSize go out
// uncompressed.
func TestDeflateRoundTrip(t *testing.T) {
	msgs := []string{"", "short", strings.Repeat("gowsgi speaks WebSocket. ", 400), "Hello", "Hello",
		strings.Repeat("x", 70000), strings.Repeat("€uro ", 20000), "tail"}
	for _, p := range []DeflateParams{
		{Level: 1, MinSize: 1},
		{Level: 9, MinSize: 1, ServerNoContextTakeover: true, ClientNoContextTakeover: true},
		{Level: flate.HuffmanOnly, MinSize: 128},
	} {
		w, err := NewWriter(&p)
		if err != nil {
			t.Fatal(err)
		}
		var wire []byte
		for _, m := range msgs {
			frame := w.AppendMessage(nil, OpText, []byte(m))
			if compressed := frame[0]&bitRsv1 != 0; compressed != (len(m) >= p.MinSize) {
				t.Errorf("%+v: message of %d bytes compressed = %v", p, len(m), compressed)
			}
			// The server's frames, masked, are what a client with the same
			// parameters would send: the same inflater reads them.
			hdr := 2
			if frame[1] == 126 {
				hdr = 4
			} else if frame[1] == 127 {
				hdr = 10
			}
			wire = append(wire, clientFrame(frame[0], frame[hdr:], key)...)
		}
		r := newTestReader(bytes.NewReader(wire), ReaderOptions{Deflate: &DeflateParams{ClientNoContextTakeover: p.ServerNoContextTakeover}})
		evs, err := readAll(r)
		if err != io.EOF || len(evs) != len(msgs) {
			t.Fatalf("%+v: %d events, %v", p, len(evs), err)
		}
		for i, ev := range evs {
			if string(ev.Data) != msgs[i] {
				t.Errorf("%+v: message %d = %.30q (%d bytes); want %.30q (%d bytes)", p, i, ev.Data, len(ev.Data), msgs[i], len(msgs[i]))
			}
		}
	}
}

// compressed returns a client's compressed text frame of msg.
func compressed(t testing.TB, msg []byte) []byte {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write(msg)
	fw.Flush()
	return clientFrame(0xc1, bytes.TrimSuffix(buf.Bytes(), syncMarker), key)
}

// zeroBomb is a compressed payload that inflates to mib MiB of zeros in
// about mib KB: one MiB compressed once, its sync-flushed blocks (which
// refer to nothing before them) repeated.
func zeroBomb(mib int) []byte {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	fw.Write(make([]byte, 1<<20))
	fw.Flush()
	return bytes.TrimSuffix(bytes.Repeat(buf.Bytes(), mib), syncMarker)
}

// A deflate bomb (a few KB inflating to gigabytes) stops at the limit
// with 1009, having allocated about the limit.
func TestDeflateBombHitsMessageLimit(t *testing.T) {
	const limit = 1 << 20
	bomb := clientFrame(0xc2, zeroBomb(256), key) // 256 MiB of zeros
	if len(bomb) > limit {
		t.Fatalf("bomb is %d bytes: over the limit before inflation", len(bomb))
	}
	r := newTestReader(bytes.NewReader(bomb), ReaderOptions{MaxMessage: limit, Deflate: &DeflateParams{}})
	if _, err := r.Next(); err != ErrMessageTooBig {
		t.Fatalf("Next = %v; want %v", err, ErrMessageTooBig)
	}
	if cap(r.out) > limit+1 {
		t.Errorf("inflated into a buffer of %d bytes; limit %d", cap(r.out), limit)
	}
	// Exactly the limit is fine.
	r = newTestReader(bytes.NewReader(clientFrame(0xc2, zeroBomb(1), key)), ReaderOptions{MaxMessage: limit, Deflate: &DeflateParams{}})
	if ev, err := r.Next(); err != nil || len(ev.Data) != limit {
		t.Fatalf("Next = %d bytes, %v; want %d bytes", len(ev.Data), err, limit)
	}
}

func TestInflateRefusals(t *testing.T) {
	tests := []struct {
		name  string
		input []byte
		want  error
	}{
		{name: "invalid block type", input: clientFrame(0xc1, []byte{0xff, 0xff}, key), want: ErrBadDeflate},
		{name: "inflated text not UTF-8", input: compressed(t, []byte("ok\xff")), want: ErrInvalidUTF8},
		{name: "stored block length mismatch", input: clientFrame(0xc2, []byte{0x00, 0x05, 0x00, 0x00, 0x00, 0x48}, key), want: ErrBadDeflate},
		{name: "distance before the start without context", input: clientFrame(0xc2, []byte{0x02, 0x13, 0x00}, key), want: ErrBadDeflate},
	}
	for _, tt := range tests {
		r := newTestReader(bytes.NewReader(tt.input), ReaderOptions{Deflate: &DeflateParams{}})
		if _, err := r.Next(); !errors.Is(err, tt.want) {
			t.Errorf("%s: Next = %v; want %v", tt.name, err, tt.want)
		}
	}
}

// The history kept for context takeover is the last 32 KiB inflated,
// across messages shorter and longer than that.
func TestInflaterHistory(t *testing.T) {
	var f inflater
	f.remember([]byte("abc"))
	f.remember([]byte("def"))
	if string(f.history) != "abcdef" {
		t.Fatalf("history = %q", f.history)
	}
	big := bytes.Repeat([]byte("0123456789"), 4000)
	f.remember(big)
	if !bytes.Equal(f.history, big[len(big)-historySize:]) {
		t.Fatalf("history after a big message is not its last %d bytes", historySize)
	}
	f.remember([]byte("xyz"))
	if len(f.history) != historySize || string(f.history[historySize-3:]) != "xyz" || !bytes.Equal(f.history[:historySize-3], big[len(big)-historySize+3:]) {
		t.Fatalf("history is not the last %d bytes", historySize)
	}
}

func TestNewWriterRefusesBadLevel(t *testing.T) {
	if _, err := NewWriter(&DeflateParams{Level: 10}); err == nil {
		t.Error("NewWriter(Level 10) = nil error")
	}
	if w, err := NewWriter(nil); err != nil || !bytes.Equal(w.AppendMessage(nil, OpBinary, []byte("x")), []byte{0x82, 1, 'x'}) {
		t.Errorf("NewWriter(nil) = %v", err)
	}
}

func TestCompressedMessageAllocations(t *testing.T) {
	msg := []byte(strings.Repeat("allocation budget ", 30))
	for _, p := range []DeflateParams{{Level: 1, MinSize: 1}, {Level: 1, MinSize: 1, ServerNoContextTakeover: true}} {
		if raceEnabled && p.ServerNoContextTakeover {
			continue // the race detector makes sync.Pool drop items
		}
		w, _ := NewWriter(&p)
		buf := w.AppendMessage(nil, OpText, msg)
		allocs := testing.AllocsPerRun(50, func() { buf = w.AppendMessage(buf[:0], OpText, msg) })
		if allocs > 0 {
			t.Errorf("%+v: AppendMessage allocates %.1f times per message; want 0", p, allocs)
		}
	}
	if raceEnabled {
		return // inflaters come from a sync.Pool too
	}
	// Reading: one compressed message after another.
	frame := compressed(t, msg)
	src := bytes.NewReader(bytes.Repeat(frame, 200))
	r := NewReader(bufio.NewReader(src), ReaderOptions{Deflate: &DeflateParams{ClientNoContextTakeover: true}})
	r.Next()
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("Next of a compressed message allocates %.1f times; want ≤ 2", allocs)
	}
}
