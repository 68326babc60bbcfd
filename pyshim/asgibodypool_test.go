package pyshim

import (
	"bytes"
	"testing"
)

func TestBodyClassSizes(t *testing.T) {
	for _, tc := range []struct{ n, class int }{
		{0, -1}, {2047, -1}, {2048, 0}, {4096, 0}, {4097, 1}, {16384, 2},
		{16385, 3}, {65536, 4}, {65537, -1},
	} {
		if c := bodyClass(tc.n); c != tc.class {
			t.Errorf("bodyClass(%d) = %d; want %d", tc.n, c, tc.class)
		}
	}
}

func TestNewBodyCopiesAndReleaseReuses(t *testing.T) {
	src := bytes.Repeat([]byte("ab"), 6000) // 12,000 bytes: the 16 KiB class
	b := newBody(src)
	if !bytes.Equal(b, src) || cap(b) != 16<<10 {
		t.Fatalf("newBody: len %d cap %d, equal %v", len(b), cap(b), bytes.Equal(b, src))
	}
	src[0] = 'x'
	if b[0] != 'a' {
		t.Fatal("newBody shares the source's memory")
	}
	small := newBody([]byte("tiny"))
	if string(small) != "tiny" {
		t.Fatalf("small body %q", small)
	}
	ReleaseBody(small)                    // not pooled: ignored
	ReleaseBody(b[:10])                   // its capacity is the class's: pooled
	ReleaseBody(make([]byte, 100, 10000)) // a capacity no class has: ignored
	again := newBody(bytes.Repeat([]byte("c"), 9000))
	if len(again) != 9000 || cap(again) != 16<<10 || again[0] != 'c' || again[8999] != 'c' {
		t.Fatalf("reused body: len %d cap %d", len(again), cap(again))
	}
}
