package httpparse

import (
	"bufio"
	"io"
)

// Body reads one request's body: Content-Length bytes, or a chunked body
// de-chunked (RFC 9112 §7.1). It is owned by the Reader, reused for every
// request, and must only be used by the goroutine that owns the Reader.
type Body struct {
	br  *bufio.Reader // the connection; set once by NewReader
	lim *limits       // the Reader's limits; set once by NewReader

	chunked bool
	// remaining is, for a Content-Length body, the bytes not yet read; for
	// a chunked body, the data bytes left in the current chunk.
	remaining int64
	state     chunkState // chunked bodies only
	decoded   int64      // data bytes announced so far, for Limits.Body
	// err is sticky: after a malformed or truncated body the connection's
	// framing is lost.
	err error

	line     []byte      // scratch for chunk-size lines
	tbuf     []byte      // trailer field lines, CRLFs removed
	tspans   []fieldSpan // offsets into tbuf
	tbytes   int         // trailer field line bytes so far, CRLFs included
	trailers []Header    // built from tspans once the body is done
}

var _ io.Reader = (*Body)(nil)

// reset prepares b for a new request's body.
func (b *Body) reset(chunked bool, contentLength int64) {
	b.chunked = chunked
	b.err = nil
	b.decoded = 0
	b.tbuf = b.tbuf[:0]
	if cap(b.tbuf) > maxRetainedHead {
		b.tbuf = nil
	}
	b.tspans = b.tspans[:0]
	if cap(b.tspans) > maxRetainedFields {
		b.tspans = nil
	}
	b.tbytes = 0
	b.trailers = b.trailers[:0]
	b.remaining = contentLength
	if chunked {
		b.remaining = 0
		b.state = chunkSize
	}
}

// Read reads body bytes. It returns io.EOF at the end of this request's
// body, io.ErrUnexpectedEOF if the connection ends first, and an *Error for
// a malformed chunked body or one past Limits.Body. Errors are sticky.
func (b *Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.chunked {
		return b.readChunked(p)
	}
	if b.remaining == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.br.Read(p)
	b.remaining -= int64(n)
	if err != nil {
		return n, b.fail(err)
	}
	return n, nil
}

// Done reports whether the whole body, trailers included, has been consumed
// without error, so that the next request may be read.
func (b *Body) Done() bool {
	if b.err != nil {
		return false
	}
	if b.chunked {
		return b.state == chunkDone
	}
	return b.remaining == 0
}

// Discard reads and drops the rest of the body if at most max data bytes
// remain. It returns ErrDiscardLimit, without reading further, as soon as
// more are known to remain; the connection should then be closed.
func (b *Body) Discard(max int64) error {
	if b.err != nil {
		return b.err
	}
	if !b.chunked {
		if b.remaining > max {
			return ErrDiscardLimit
		}
		return b.discardData()
	}
	dropped := int64(0)
	for {
		if err := b.advance(); err != nil {
			return err
		}
		if b.state == chunkDone {
			return nil
		}
		if b.remaining > max-dropped {
			return ErrDiscardLimit
		}
		dropped += b.remaining
		if err := b.discardData(); err != nil {
			return err
		}
		b.state = chunkDataCRLF
	}
}

// Trailers returns the trailer fields of a chunked body once Done; nil
// before that or when there were none. The slices are valid until the next
// ReadRequest.
func (b *Body) Trailers() []Header {
	if !b.Done() || len(b.trailers) == 0 {
		return nil
	}
	return b.trailers
}

// discardData drops the remaining bytes of a Content-Length body or of the
// current chunk.
func (b *Body) discardData() error {
	for b.remaining > 0 {
		n, err := b.br.Discard(int(min(b.remaining, 1<<30)))
		b.remaining -= int64(n)
		if err != nil {
			return b.fail(err)
		}
	}
	return nil
}

// fail records err as the body's sticky error; a clean EOF inside a body is
// a truncated body.
func (b *Body) fail(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	b.err = err
	return err
}
