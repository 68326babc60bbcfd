package httpparse

import "bytes"

// parseFieldLine parses the field line buf[start:end] (RFC 9112 §5):
// field-name ":" OWS field-value OWS. "Host: a.example " → name "Host",
// value "a.example". CR has already been excluded by readLine.
func parseFieldLine(buf []byte, start, end int) (fieldSpan, error) {
	line := buf[start:end]
	// RFC 9112 §5.2: obs-fold is refused rather than unfolded, and
	// RFC 9112 §2.2: whitespace before the first field line is refused
	// too; both start with SP or HTAB.
	if isOWS(line[0]) {
		return fieldSpan{}, ErrObsFold
	}
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return fieldSpan{}, ErrMissingColon
	}
	name := line[:colon]
	// RFC 9112 §5.1: whitespace between name and colon MUST be rejected
	// with 400; a proxy may have treated "Content-Length :" as another field.
	if len(name) > 0 && isOWS(name[len(name)-1]) {
		return fieldSpan{}, ErrSpaceBeforeColon
	}
	if !isToken(name) {
		return fieldSpan{}, ErrInvalidHeaderName
	}
	vs, ve := colon+1, len(line)
	for vs < ve && isOWS(line[vs]) {
		vs++
	}
	for ve > vs && isOWS(line[ve-1]) {
		ve--
	}
	// RFC 9110 §5.5: NUL and other controls are refused, not replaced.
	for _, c := range line[vs:ve] {
		if !fieldValueTable[c] {
			return fieldSpan{}, ErrInvalidHeaderValue
		}
	}
	return fieldSpan{
		nameStart: start, nameEnd: start + colon,
		valueStart: start + vs, valueEnd: start + ve,
	}, nil
}
