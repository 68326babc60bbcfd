package pyshim

import (
	"math/bits"
	"sync"
)

// The body bytes of an app's events are copied out of the loop's queue
// into Go memory (asgiout.go, deliver). A streamed response makes one
// such copy per body event and drops it as soon as the worker has
// gathered it into the Step it writes, so fresh allocations there (a
// 1 MiB stream in 16 KiB events is 64 of them per request) are mostly
// work for the garbage collector: pooled, they are reused while hot.

// Pooled body buffers come in power-of-two sizes from 4 KiB to 64 KiB,
// for bodies of more than 2 KiB;
// smaller and larger bodies are plain allocations.
const (
	minPooledBody = 4 << 10
	maxPooledBody = 64 << 10
	bodyClasses   = 5 // 4, 8, 16, 32, 64 KiB
)

var bodyPools [bodyClasses]sync.Pool

// bodyClass is the pool whose buffers hold n bytes, or -1.
func bodyClass(n int) int {
	if n < minPooledBody/2 || n > maxPooledBody {
		return -1
	}
	c := bits.Len(uint(n-1)) - 12 // ceil(log2 n) - log2 4 KiB
	return max(c, 0)
}

// newBody returns a copy of b, from a pool when its size has one.
func newBody(b []byte) []byte {
	c := bodyClass(len(b))
	if c < 0 {
		return append([]byte(nil), b...)
	}
	var buf []byte
	if p, ok := bodyPools[c].Get().(*[]byte); ok {
		buf = (*p)[:len(b)]
	} else {
		buf = make([]byte, len(b), minPooledBody<<c)
	}
	copy(buf, b)
	return buf
}

// ReleaseBody gives back the Body of a Sent that its taker has copied
// and will not touch again. Any other slice is ignored.
func ReleaseBody(b []byte) {
	c := bodyClass(cap(b))
	if c < 0 || cap(b) != minPooledBody<<c {
		return
	}
	empty := b[:0] // not &b: that would move the parameter to the heap on every call
	bodyPools[c].Put(&empty)
}
