package websocket

import "compress/flate"

// Writer builds the server's data frames for one connection, compressing
// them when permessage-deflate was negotiated. It appends to the
// caller's buffer and does no I/O; it is not safe for concurrent use
// (the goroutine that owns the connection owns its Writer).
type Writer struct {
	def     *deflater // nil without permessage-deflate
	minSize int
	scratch []byte // compressed payload, reused
}

// maxScratch bounds the compression buffer a Writer keeps between
// messages; a larger one (after a big message) is dropped.
const maxScratch = 64 << 10

// NewWriter returns a Writer for a connection with the negotiated
// deflate parameters, nil for none. A Level outside compress/flate's
// range (-2 to 9) is refused with the error flate gives.
func NewWriter(deflate *DeflateParams) (*Writer, error) {
	w := &Writer{}
	if deflate != nil {
		if _, err := flate.NewWriter(nil, deflate.Level); err != nil {
			return nil, err
		}
		w.def = &deflater{level: deflate.Level, noContext: deflate.ServerNoContextTakeover}
		w.minSize = deflate.MinSize
	}
	return w, nil
}

// AppendMessage appends a whole message as one frame: op is OpText or
// OpBinary. With permessage-deflate and at least MinSize bytes, the
// payload is compressed and the frame has RSV1 set (RFC 7692 §6);
// otherwise it is sent as is (a sender may leave any message
// uncompressed, §6). Text must be UTF-8 (RFC 6455 §5.6): the caller's
// to guarantee (an ASGI "text" is a Python str, UTF-8 encoded).
func (w *Writer) AppendMessage(dst []byte, op Opcode, payload []byte) []byte {
	if w.def == nil || len(payload) < w.minSize {
		return appendFrame(dst, op, true, false, payload)
	}
	w.scratch = w.def.compress(w.scratch[:0], payload)
	dst = appendFrame(dst, op, true, true, w.scratch)
	if cap(w.scratch) > maxScratch {
		w.scratch = nil
	}
	return dst
}
