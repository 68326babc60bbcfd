package wsgi

import (
	"bytes"

	"github.com/gowsgi/gowsgi/httpparse"
)

// fieldsScanned is how many header fields are matched by name by
// scanning; more are indexed. Scanning is quadratic: 32,768 distinct
// fields (--limit-request-fields 0) took 3.8 s of CPU per request.
const fieldsScanned = 32

// fieldIndex finds the fields that share a name (case-insensitively),
// to join repeated fields into one environ value. A request with few
// fields, every usual one, is scanned without allocating.
type fieldIndex struct {
	hs []httpparse.Header
	// next[i] is the next field with hs[i]'s name, -1 for none; and
	// repeat[i] says an earlier field has it. nil when scanning.
	next   []int32
	repeat []bool
}

func indexFields(hs []httpparse.Header) fieldIndex {
	x := fieldIndex{hs: hs}
	if len(hs) <= fieldsScanned {
		return x
	}
	x.next, x.repeat = make([]int32, len(hs)), make([]bool, len(hs))
	last := make(map[string]int32, len(hs))
	for i := range hs {
		x.next[i] = -1
		name := string(bytes.ToLower(hs[i].Name))
		if j, ok := last[name]; ok {
			x.next[j], x.repeat[i] = int32(i), true
		}
		last[name] = int32(i)
	}
	return x
}

// repeated reports whether a field before hs[i] has its name.
func (x fieldIndex) repeated(i int) bool {
	if x.repeat != nil {
		return x.repeat[i]
	}
	return seenBefore(x.hs[:i], x.hs[i].Name)
}

// after returns the next field after hs[i] with its name, -1 for none.
func (x fieldIndex) after(i int) int {
	if x.next != nil {
		return int(x.next[i])
	}
	for j := i + 1; j < len(x.hs); j++ {
		if EqualFold(x.hs[j].Name, x.hs[i].Name) {
			return j
		}
	}
	return -1
}

func seenBefore(hs []httpparse.Header, name []byte) bool {
	for i := range hs {
		if EqualFold(hs[i].Name, name) {
			return true
		}
	}
	return false
}
