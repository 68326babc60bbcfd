package websocket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// rfcKey is the masking key of the examples of RFC 6455 §5.7.
var rfcKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// clientFrame builds a masked frame as a client sends it: first header
// byte b0 (FIN, RSV, opcode), payload masked with key.
func clientFrame(b0 byte, payload []byte, key [4]byte) []byte {
	n := len(payload)
	var out []byte
	switch {
	case n <= 125:
		out = []byte{b0, bitMask | byte(n)}
	case n <= 0xffff:
		out = binary.BigEndian.AppendUint16([]byte{b0, bitMask | 126}, uint16(n))
	default:
		out = binary.BigEndian.AppendUint64([]byte{b0, bitMask | 127}, uint64(n))
	}
	out = append(out, key[:]...)
	start := len(out)
	out = append(out, payload...)
	for i := range payload {
		out[start+i] ^= key[i%4]
	}
	return out
}

func TestAppendFrameRFCExamples(t *testing.T) {
	// RFC 6455 §5.7, the unmasked (server) examples, byte for byte.
	hello := []byte("Hello")
	big256 := bytes.Repeat([]byte{0xab}, 256)
	big64k := bytes.Repeat([]byte{0xcd}, 65536)
	tests := []struct {
		name    string
		op      Opcode
		fin     bool
		payload []byte
		want    []byte
	}{
		{name: "single-frame unmasked text", op: OpText, fin: true, payload: hello,
			want: []byte{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}},
		{name: "fragmented text, first", op: OpText, fin: false, payload: []byte("Hel"),
			want: []byte{0x01, 0x03, 0x48, 0x65, 0x6c}},
		{name: "fragmented text, last", op: OpContinuation, fin: true, payload: []byte("lo"),
			want: []byte{0x80, 0x02, 0x6c, 0x6f}},
		{name: "unmasked ping", op: OpPing, fin: true, payload: hello,
			want: []byte{0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}},
		{name: "256 bytes binary, 16-bit length", op: OpBinary, fin: true, payload: big256,
			want: append([]byte{0x82, 0x7e, 0x01, 0x00}, big256...)},
		{name: "64 KiB binary, 64-bit length", op: OpBinary, fin: true, payload: big64k,
			want: append([]byte{0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}, big64k...)},
		{name: "125 bytes, 7-bit length", op: OpBinary, fin: true, payload: big256[:125],
			want: append([]byte{0x82, 125}, big256[:125]...)},
		{name: "65535 bytes, 16-bit length", op: OpBinary, fin: true, payload: big64k[:65535],
			want: append([]byte{0x82, 126, 0xff, 0xff}, big64k[:65535]...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendFrame([]byte("prefix"), tt.op, tt.fin, tt.payload)
			if !bytes.Equal(got, append([]byte("prefix"), tt.want...)) {
				t.Errorf("AppendFrame = % x...; want % x...", got[6:min(len(got), 20)], tt.want[:min(len(tt.want), 14)])
			}
		})
	}
}

func TestMaskedRFCExamplesMatchHelper(t *testing.T) {
	// §5.7: "A single-frame masked text message" and "a masked Pong".
	want := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
	if got := clientFrame(0x81, []byte("Hello"), rfcKey); !bytes.Equal(got, want) {
		t.Fatalf("clientFrame = % x; want % x", got, want)
	}
}

func TestCloseCodeValidOnWire(t *testing.T) {
	tests := []struct {
		code CloseCode
		want bool
	}{
		{0, false}, {999, false},
		{1000, true}, {1001, true}, {1002, true}, {1003, true},
		{1004, false},                // reserved
		{1005, false}, {1006, false}, // never on the wire
		{1007, true}, {1008, true}, {1009, true}, {1010, true}, {1011, true},
		{1012, true}, {1013, true}, {1014, true}, // IANA registry
		{1015, false}, // never on the wire
		{1016, false}, {2000, false}, {2999, false},
		{3000, true}, {3999, true}, {4000, true}, {4999, true},
		{5000, false}, {65535, false},
	}
	for _, tt := range tests {
		if got := tt.code.ValidOnWire(); got != tt.want {
			t.Errorf("CloseCode(%d).ValidOnWire() = %v; want %v", tt.code, got, tt.want)
		}
	}
}

func TestAppendClose(t *testing.T) {
	long := strings.Repeat("a", MaxCloseReason)
	tests := []struct {
		name    string
		code    CloseCode
		reason  string
		want    []byte
		wantErr error
	}{
		{name: "normal", code: CloseNormal, want: []byte{0x88, 0x02, 0x03, 0xe8}},
		{name: "with reason", code: 4000, reason: "bye", want: []byte{0x88, 0x05, 0x0f, 0xa0, 'b', 'y', 'e'}},
		{name: "no status is an empty close", code: CloseNoStatus, want: []byte{0x88, 0x00}},
		{name: "123-byte reason", code: CloseGoingAway, reason: long,
			want: append([]byte{0x88, 125, 0x03, 0xe9}, long...)},
		{name: "124-byte reason", code: CloseNormal, reason: long + "a", wantErr: ErrCloseReason},
		{name: "reason not UTF-8", code: CloseNormal, reason: "\xff", wantErr: ErrCloseReason},
		{name: "1006 never sent", code: CloseAbnormal, wantErr: ErrInvalidCloseCode},
		{name: "1015 never sent", code: 1015, wantErr: ErrInvalidCloseCode},
		{name: "999", code: 999, wantErr: ErrInvalidCloseCode},
		{name: "5000", code: 5000, wantErr: ErrInvalidCloseCode},
		{name: "no status with a reason", code: CloseNoStatus, reason: "x", wantErr: ErrCloseReason},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendClose(nil, tt.code, tt.reason)
			if !errors.Is(err, tt.wantErr) || !bytes.Equal(got, tt.want) {
				t.Errorf("AppendClose(%d, %q) = % x, %v; want % x, %v", tt.code, tt.reason, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestAppendPongPing(t *testing.T) {
	if got, want := AppendPong(nil, []byte("Hello")), []byte{0x8a, 0x05, 'H', 'e', 'l', 'l', 'o'}; !bytes.Equal(got, want) {
		t.Errorf("AppendPong = % x; want % x", got, want)
	}
	if got, want := AppendPing(nil, nil), []byte{0x89, 0x00}; !bytes.Equal(got, want) {
		t.Errorf("AppendPing = % x; want % x", got, want)
	}
}

func TestMaskBytesMatchesBytewise(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	data := make([]byte, 100)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for start := 0; start < 4; start++ {
		for n := 0; n <= 40; n++ {
			got := append([]byte(nil), data[:n]...)
			pos := maskBytes(key, start, got)
			for i := range n {
				if got[i] != data[i]^key[(start+i)%4] {
					t.Fatalf("maskBytes(start %d, n %d): byte %d = %x; want %x", start, n, i, got[i], data[i]^key[(start+i)%4])
				}
			}
			if pos != (start+n)%4 {
				t.Fatalf("maskBytes(start %d, n %d) = %d; want %d", start, n, pos, (start+n)%4)
			}
		}
	}
}
