package uwsgiproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"

	"github.com/gowsgi/gowsgi/httpparse"
)

// FuzzReadPacket feeds arbitrary streams to the packet reader. Invariants:
// no panic; only the package's errors or a truncation come out of a
// stream that cannot fail; an accepted packet re-encodes to exactly the
// bytes read, has a token method and no repeated CGI var; and reading
// one byte at a time never changes the outcome.
func FuzzReadPacket(f *testing.F) {
	files, _ := filepath.Glob("testdata/packets/*.uwsgi")
	for _, name := range files {
		in, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(in)
	}
	f.Add(get("PATH_INFO", "/", "CONTENT_LENGTH", "3"))
	f.Add(encode(30, 0, "REQUEST_METHOD", "GET", "SCRIPT_NAME", "/app", "PATH_INFO", "/app/x"))
	f.Add(withBlock([]byte{1, 0, 'A', 9, 0, 'x'}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Packet
		r := bytes.NewReader(data)
		err := ReadPacket(r, &p)
		var q Packet
		if err2 := ReadPacket(iotest.OneByteReader(bytes.NewReader(data)), &q); !sameOutcome(err, err2) {
			t.Fatalf("whole: %v; one byte at a time: %v", err, err2)
		}
		if err != nil {
			if !isPacketError(err) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		read := data[:len(data)-r.Len()]
		if got := reencode(&p); !bytes.Equal(got, read) {
			t.Fatalf("re-encoded %q; read %q", got, read)
		}
		if !httpparse.IsToken(p.Method) || p.ContentLength < 0 {
			t.Fatalf("accepted method %q, length %d", p.Method, p.ContentLength)
		}
		seen := map[string]bool{}
		for _, v := range p.Vars {
			if seen[string(v.Key)] && (!IsHeaderVar(v.Key) || isSingletonHeaderVar(v.Key)) {
				t.Fatalf("accepted a repeated %q", v.Key)
			}
			seen[string(v.Key)] = true
		}
	})
}

func sameOutcome(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

func isPacketError(err error) bool {
	if err == io.EOF {
		return true
	}
	for _, e := range []error{ErrTruncated, ErrUnsupportedModifier, ErrUnsupportedModifier2, ErrVarOverrun,
		ErrInvalidKey, ErrDuplicateVar, ErrTooManyVars, ErrMissingMethod, ErrInvalidMethod, ErrInvalidContentLength} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func reencode(p *Packet) []byte {
	var block []byte
	for _, v := range p.Vars {
		block = binary.LittleEndian.AppendUint16(block, uint16(len(v.Key)))
		block = append(block, v.Key...)
		block = binary.LittleEndian.AppendUint16(block, uint16(len(v.Value)))
		block = append(block, v.Value...)
	}
	head := []byte{p.Modifier1, 0, 0, 0}
	binary.LittleEndian.PutUint16(head[1:3], uint16(len(block)))
	return append(head, block...)
}
