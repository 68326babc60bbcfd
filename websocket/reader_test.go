package websocket

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

var key = [4]byte{0xa1, 0xb2, 0xc3, 0xd4}

func frames(fs ...[]byte) []byte { return bytes.Join(fs, nil) }

// readAll reads events until an error and returns them with the error.
func readAll(r *Reader) ([]Event, error) {
	var evs []Event
	for {
		ev, err := r.Next()
		if err != nil {
			return evs, err
		}
		ev.Data = append([]byte(nil), ev.Data...) // Data is valid until Next
		evs = append(evs, ev)
	}
}

func newTestReader(in io.Reader, opts ReaderOptions) *Reader {
	return NewReader(bufio.NewReaderSize(in, 16), opts)
}

// splits are the ways every reader test feeds its input: whole, one byte
// at a time, in halves and in seeded random pieces.
var splits = []struct {
	name string
	wrap func([]byte) io.Reader
}{
	{"whole", func(b []byte) io.Reader { return bytes.NewReader(b) }},
	{"bytewise", func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }},
	{"halves", func(b []byte) io.Reader {
		return io.MultiReader(bytes.NewReader(b[:len(b)/2]), bytes.NewReader(b[len(b)/2:]))
	}},
	{"random", func(b []byte) io.Reader { return &randomSplit{b: b, rng: rand.New(rand.NewPCG(1, uint64(len(b))))} }},
}

type randomSplit struct {
	b   []byte
	rng *rand.Rand
}

func (r *randomSplit) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b[:min(len(r.b), 1+r.rng.IntN(7))])
	r.b = r.b[n:]
	return n, nil
}

func TestReaderEvents(t *testing.T) {
	hello := []byte("Hello")
	big := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80000 bytes: 64-bit length
	tests := []struct {
		name  string
		input []byte
		want  []Event
	}{
		{name: "RFC 6455 5.7 masked text Hello",
			input: []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58},
			want:  []Event{{Op: OpText, Data: hello}}},
		{name: "RFC 6455 5.7 masked pong Hello",
			input: []byte{0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58},
			want:  []Event{{Op: OpPong, Data: hello}}},
		{name: "fragmented text Hel + lo",
			input: frames(clientFrame(0x01, []byte("Hel"), rfcKey), clientFrame(0x80, []byte("lo"), rfcKey)),
			want:  []Event{{Op: OpText, Data: hello}}},
		{name: "ping between fragments",
			input: frames(clientFrame(0x02, []byte("ab"), key), clientFrame(0x89, []byte("p"), key),
				clientFrame(0x00, []byte("cd"), key), clientFrame(0x8a, nil, key), clientFrame(0x80, []byte("ef"), key)),
			want: []Event{{Op: OpPing, Data: []byte("p")}, {Op: OpPong, Data: []byte{}}, {Op: OpBinary, Data: []byte("abcdef")}}},
		{name: "close between fragments",
			input: frames(clientFrame(0x01, []byte("ab"), key), clientFrame(0x88, []byte{0x03, 0xe8}, key)),
			want:  []Event{{Op: OpClose, Code: CloseNormal, Data: []byte{}}}},
		{name: "empty text and empty fragments",
			input: frames(clientFrame(0x81, nil, key), clientFrame(0x01, nil, key), clientFrame(0x00, nil, key), clientFrame(0x80, nil, key)),
			want:  []Event{{Op: OpText, Data: []byte{}}, {Op: OpText, Data: []byte{}}}},
		{name: "16-bit and 64-bit lengths",
			input: frames(clientFrame(0x82, big[:300], key), clientFrame(0x82, big, key)),
			want:  []Event{{Op: OpBinary, Data: big[:300]}, {Op: OpBinary, Data: big}}},
		{name: "UTF-8 split inside a character across fragments",
			input: frames(clientFrame(0x01, []byte("€"[:1]), key), clientFrame(0x00, []byte("€"[1:2]), key), clientFrame(0x80, []byte("€"[2:]+"ok"), key)),
			want:  []Event{{Op: OpText, Data: []byte("€ok")}}},
		{name: "close without payload is 1005",
			input: clientFrame(0x88, nil, key),
			want:  []Event{{Op: OpClose, Code: CloseNoStatus}}},
		{name: "close with code and reason",
			input: clientFrame(0x88, append([]byte{0x0f, 0xa0}, "bye ü"...), key),
			want:  []Event{{Op: OpClose, Code: 4000, Data: []byte("bye ü")}}},
		{name: "125-byte ping",
			input: clientFrame(0x89, big[:125], key),
			want:  []Event{{Op: OpPing, Data: big[:125]}}},
		{name: "non-minimal 64-bit length accepted",
			input: append([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0}, 'h', 'i'),
			want:  []Event{{Op: OpBinary, Data: []byte("hi")}}},
	}
	for _, tt := range tests {
		for _, sp := range splits {
			t.Run(tt.name+"/"+sp.name, func(t *testing.T) {
				evs, err := readAll(newTestReader(sp.wrap(tt.input), ReaderOptions{}))
				wantErr := io.EOF
				if tt.want[len(tt.want)-1].Op == OpClose {
					wantErr = ErrClosed
				}
				if !errors.Is(err, wantErr) {
					t.Fatalf("error = %v; want %v", err, wantErr)
				}
				if len(evs) != len(tt.want) {
					t.Fatalf("got %d events; want %d", len(evs), len(tt.want))
				}
				for i, ev := range evs {
					w := tt.want[i]
					if ev.Op != w.Op || ev.Code != w.Code || !bytes.Equal(ev.Data, w.Data) {
						t.Errorf("event %d = {%v %d %.20q}; want {%v %d %.20q}", i, ev.Op, ev.Code, ev.Data, w.Op, w.Code, w.Data)
					}
				}
			})
		}
	}
}

func TestReaderRefuses(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 126)
	tests := []struct {
		name    string
		input   []byte
		opts    ReaderOptions
		want    error
		wantEvs int // events before the error
	}{
		{name: "unmasked frame", input: []byte{0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}, want: ErrUnmasked},
		{name: "RSV1 without deflate", input: clientFrame(0xc1, []byte("x"), key), want: ErrReservedBits},
		{name: "RSV2", input: clientFrame(0xa1, []byte("x"), key), want: ErrReservedBits},
		{name: "RSV3", input: clientFrame(0x91, []byte("x"), key), want: ErrReservedBits},
		{name: "RSV2 with deflate", input: clientFrame(0xa1, []byte("x"), key), opts: ReaderOptions{Deflate: &DeflateParams{}}, want: ErrReservedBits},
		{name: "RSV1 on ping with deflate", input: clientFrame(0xc9, nil, key), opts: ReaderOptions{Deflate: &DeflateParams{}}, want: ErrCompressedControl},
		{name: "RSV1 on continuation with deflate",
			input: frames(clientFrame(0x41, []byte{0xf2, 0x48}, key), clientFrame(0xc0, []byte{0xcd}, key)),
			opts:  ReaderOptions{Deflate: &DeflateParams{}}, want: ErrCompressedControl},
		{name: "opcode 3", input: clientFrame(0x83, nil, key), want: ErrReservedOpcode},
		{name: "opcode 7", input: clientFrame(0x87, nil, key), want: ErrReservedOpcode},
		{name: "opcode 0xB", input: clientFrame(0x8b, nil, key), want: ErrReservedOpcode},
		{name: "opcode 0xF", input: clientFrame(0x8f, nil, key), want: ErrReservedOpcode},
		{name: "fragmented ping", input: clientFrame(0x09, nil, key), want: ErrFragmentedControl},
		{name: "fragmented close", input: clientFrame(0x08, nil, key), want: ErrFragmentedControl},
		{name: "126-byte ping", input: clientFrame(0x89, long, key), want: ErrControlTooLong},
		{name: "126-byte close", input: clientFrame(0x88, long, key), want: ErrControlTooLong},
		{name: "64-bit length with high bit", input: []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, want: ErrLengthHighBit},
		{name: "continuation first", input: clientFrame(0x80, []byte("x"), key), want: ErrUnexpectedContinue},
		{name: "continuation after final", input: frames(clientFrame(0x81, []byte("x"), key), clientFrame(0x80, []byte("y"), key)),
			want: ErrUnexpectedContinue, wantEvs: 1},
		{name: "text inside a fragmented message", input: frames(clientFrame(0x01, []byte("x"), key), clientFrame(0x81, []byte("y"), key)),
			want: ErrExpectedContinuation},
		{name: "binary inside a fragmented message", input: frames(clientFrame(0x02, []byte("x"), key), clientFrame(0x02, []byte("y"), key)),
			want: ErrExpectedContinuation},
		{name: "invalid UTF-8 text", input: clientFrame(0x81, []byte("a\xffb"), key), want: ErrInvalidUTF8},
		{name: "surrogate in text", input: clientFrame(0x81, []byte("\xed\xa0\x80"), key), want: ErrInvalidUTF8},
		{name: "overlong in text", input: clientFrame(0x81, []byte("\xc0\xaf"), key), want: ErrInvalidUTF8},
		{name: "above U+10FFFF in text", input: clientFrame(0x81, []byte("\xf4\x90\x80\x80"), key), want: ErrInvalidUTF8},
		{name: "text ends inside a character", input: clientFrame(0x81, []byte("a\xe2\x82"), key), want: ErrInvalidUTF8},
		{name: "fragmented text ends inside a character",
			input: frames(clientFrame(0x01, []byte("a\xe2"), key), clientFrame(0x80, []byte("\x82"), key)), want: ErrInvalidUTF8},
		{name: "invalid UTF-8 binary is fine then EOF", input: clientFrame(0x82, []byte("\xff"), key), want: io.EOF, wantEvs: 1},
		{name: "close with 1-byte payload", input: clientFrame(0x88, []byte{0x03}, key), want: ErrBadClosePayload},
		{name: "close code 999", input: clientFrame(0x88, []byte{0x03, 0xe7}, key), want: ErrBadCloseCode},
		{name: "close code 1004", input: clientFrame(0x88, []byte{0x03, 0xec}, key), want: ErrBadCloseCode},
		{name: "close code 1005", input: clientFrame(0x88, []byte{0x03, 0xed}, key), want: ErrBadCloseCode},
		{name: "close code 1006", input: clientFrame(0x88, []byte{0x03, 0xee}, key), want: ErrBadCloseCode},
		{name: "close code 1015", input: clientFrame(0x88, []byte{0x03, 0xf7}, key), want: ErrBadCloseCode},
		{name: "close code 2000", input: clientFrame(0x88, []byte{0x07, 0xd0}, key), want: ErrBadCloseCode},
		{name: "close code 5000", input: clientFrame(0x88, []byte{0x13, 0x88}, key), want: ErrBadCloseCode},
		{name: "close reason not UTF-8", input: clientFrame(0x88, []byte{0x03, 0xe8, 0xff}, key), want: ErrInvalidReason},
		{name: "message over the limit in one frame", input: clientFrame(0x82, make([]byte, 11), key),
			opts: ReaderOptions{MaxMessage: 10}, want: ErrMessageTooBig},
		{name: "message at the limit then EOF", input: clientFrame(0x82, make([]byte, 10), key),
			opts: ReaderOptions{MaxMessage: 10}, want: io.EOF, wantEvs: 1},
		{name: "message over the limit across fragments",
			input: frames(clientFrame(0x02, make([]byte, 6), key), clientFrame(0x80, make([]byte, 5), key)),
			opts:  ReaderOptions{MaxMessage: 10}, want: ErrMessageTooBig},
		{name: "limit is per message",
			input: frames(clientFrame(0x82, make([]byte, 10), key), clientFrame(0x82, make([]byte, 10), key)),
			opts:  ReaderOptions{MaxMessage: 10}, want: io.EOF, wantEvs: 2},
		{name: "claimed 2^62 bytes", input: []byte{0x82, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, want: ErrMessageTooBig},
		{name: "EOF inside a header", input: []byte{0x81}, want: io.ErrUnexpectedEOF},
		{name: "EOF inside an extended header", input: []byte{0x81, 0xfe, 0x01}, want: io.ErrUnexpectedEOF},
		{name: "EOF inside a payload", input: clientFrame(0x81, []byte("Hello"), key)[:8], want: io.ErrUnexpectedEOF},
		{name: "EOF inside a control payload", input: clientFrame(0x89, []byte("Hello"), key)[:8], want: io.ErrUnexpectedEOF},
		{name: "EOF between fragments", input: clientFrame(0x01, []byte("Hel"), key), want: io.ErrUnexpectedEOF},
		{name: "EOF between messages", input: nil, want: io.EOF},
		{name: "data after close is not read",
			input: frames(clientFrame(0x88, nil, key), []byte{0xff, 0xff}), want: ErrClosed, wantEvs: 1},
	}
	for _, tt := range tests {
		for _, sp := range splits[:2] {
			t.Run(tt.name+"/"+sp.name, func(t *testing.T) {
				r := newTestReader(sp.wrap(tt.input), tt.opts)
				evs, err := readAll(r)
				if !errors.Is(err, tt.want) || len(evs) != tt.wantEvs {
					t.Fatalf("after %d events: %v; want %d events then %v", len(evs), err, tt.wantEvs, tt.want)
				}
				if _, again := r.Next(); again != err {
					t.Errorf("Next again = %v; want %v repeated", again, err)
				}
				var ce *CloseError
				if errors.As(err, &ce) && (len(ce.Reason) > MaxCloseReason || !ce.Code.ValidOnWire()) {
					t.Errorf("CloseError %v cannot go in a close frame", ce)
				}
			})
		}
	}
}

// A client that sends an invalid byte in the first fragment of a text
// message is refused then, before it sends the rest (RFC 6455 §8.1 and
// Autobahn's "fail fast" cases): the reader does not wait for the final
// frame. Here the rest never comes: the stream then fails with
// errTimeout, which a reader that waited would return instead.
func TestReaderInvalidUTF8FailsFast(t *testing.T) {
	stalled := func(b []byte) io.Reader { return io.MultiReader(bytes.NewReader(b), iotest.ErrReader(errTimeout)) }
	if _, err := newTestReader(stalled(clientFrame(0x01, []byte("ok\xc0"), key)), ReaderOptions{}).Next(); err != ErrInvalidUTF8 {
		t.Fatalf("after an invalid first fragment: Next = %v; want %v", err, ErrInvalidUTF8)
	}
	// The same inside one frame: the first 4 bytes of a 100-byte frame are
	// invalid, and 10 bytes of payload are all that come.
	payload := append([]byte("\xf8\x88\x80\x80"), make([]byte, 96)...)
	if _, err := newTestReader(stalled(clientFrame(0x81, payload, key)[:2+4+10]), ReaderOptions{}).Next(); err != ErrInvalidUTF8 {
		t.Fatalf("inside a frame: Next = %v; want %v", err, ErrInvalidUTF8)
	}
}

// errTimeout stands for a read deadline: a transient error.
var errTimeout = errors.New("i/o timeout")

// stutter returns errTimeout before every chunk of at most n bytes.
type stutter struct {
	b       []byte
	n       int
	pending bool
}

func (s *stutter) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	if s.pending = !s.pending; s.pending {
		return 0, errTimeout
	}
	k := copy(p, s.b[:min(len(s.b), s.n)])
	s.b = s.b[k:]
	return k, nil
}

// A read error that is not the end of the stream (a deadline) leaves the
// Reader where it was: calling Next again goes on, and nothing is lost.
func TestReaderResumesAfterTransientError(t *testing.T) {
	input := frames(clientFrame(0x01, []byte("Hel"), key), clientFrame(0x89, []byte("ping"), key),
		clientFrame(0x80, []byte(strings.Repeat("lo", 100)), key), clientFrame(0x88, []byte{0x03, 0xe9}, key))
	for _, n := range []int{1, 3, 7} {
		r := newTestReader(&stutter{b: input, n: n}, ReaderOptions{})
		var got []Event
		timeouts := 0
		for {
			ev, err := r.Next()
			if err == errTimeout {
				timeouts++
				continue
			}
			if err != nil {
				if err != ErrClosed {
					t.Fatalf("chunks of %d: Next = %v", n, err)
				}
				break
			}
			ev.Data = append([]byte(nil), ev.Data...)
			got = append(got, ev)
		}
		if timeouts == 0 || len(got) != 3 || string(got[0].Data) != "ping" ||
			string(got[1].Data) != "Hel"+strings.Repeat("lo", 100) || got[2].Code != CloseGoingAway {
			t.Errorf("chunks of %d: %d timeouts, events %+v", n, timeouts, got)
		}
	}
}

// The reader grows its buffer as payload arrives: a header that claims
// the whole limit, followed by little, allocates little.
func TestReaderDoesNotTrustClaimedLength(t *testing.T) {
	hdr := binary.BigEndian.AppendUint64([]byte{0x82, 0xff}, 8<<20)
	input := append(append(hdr, key[:]...), make([]byte, 100)...)
	r := newTestReader(bytes.NewReader(input), ReaderOptions{})
	if _, err := r.Next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("Next = %v; want %v", err, io.ErrUnexpectedEOF)
	}
	if cap(r.msg) > 8192 {
		t.Errorf("buffer grew to %d bytes for 100 bytes received", cap(r.msg))
	}
}

func TestReaderAllocations(t *testing.T) {
	msg := clientFrame(0x81, []byte(strings.Repeat("hello ", 50)), key)
	ping := clientFrame(0x89, []byte("p"), key)
	input := bytes.Repeat(frames(msg, ping), 200)
	src := bytes.NewReader(input)
	br := bufio.NewReader(src)
	r := NewReader(br, ReaderOptions{})
	r.Next() // the first message sizes the buffer
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Next allocates %.1f times per event in steady state; want 0", allocs)
	}
}
