package websocket

import (
	"bufio"
	"encoding/binary"
	"io"
	"slices"
	"unicode/utf8"
)

// DefaultMaxMessage is the message size limit when ReaderOptions leaves
// it 0: 16 MiB, Uvicorn's --ws-max-size default.
const DefaultMaxMessage = 16 << 20

// keepBuffer bounds the message buffers a Reader keeps between messages;
// larger ones (after a big message) are dropped when the next one starts.
const keepBuffer = 64 << 10

// ReaderOptions configure a Reader.
type ReaderOptions struct {
	// MaxMessage bounds a message in bytes: its payload as received and,
	// when compressed, its inflated size. A larger one fails with
	// ErrMessageTooBig (1009, RFC 6455 §7.4.1) before it is buffered.
	// 0 means DefaultMaxMessage.
	MaxMessage int
	// Deflate are the negotiated permessage-deflate parameters, nil when
	// none were: RSV1 then fails the connection (RFC 6455 §5.2).
	Deflate *DeflateParams
}

// Event is what Reader.Next returns: a whole data message or a control
// frame.
type Event struct {
	// Op is OpText, OpBinary, OpPing, OpPong or OpClose.
	Op Opcode
	// Data is the message, the Ping or Pong application data, or the
	// Close reason (valid UTF-8). It belongs to the Reader and is valid
	// until the next call to Next.
	Data []byte
	// Code is a Close frame's status code: CloseNoStatus (1005) when the
	// frame had none (RFC 6455 §7.1.5).
	Code CloseCode
	// Compressed tells that the message came compressed (RFC 7692 §6).
	Compressed bool
}

// Reader reads the frames a client sends on one connection (RFC 6455
// §5) and returns whole messages and control frames. It reads from a
// *bufio.Reader (the one the HTTP request was read with: it may hold the
// first frames already) and never reads past the frame it needs. It is
// not safe for concurrent use.
type Reader struct {
	br      *bufio.Reader // never nil
	max     int
	inflate *inflater // nil without permessage-deflate

	// The frame being read: inFrame is set from its header until its
	// last payload byte.
	inFrame   bool
	fin       bool
	op        Opcode
	key       [4]byte
	keyPos    int
	remaining int64

	ctrl    [MaxControlPayload]byte // a control frame's payload
	ctrlLen int

	// The message being assembled: msgOp is 0 between messages.
	msgOp      Opcode
	compressed bool
	msg        []byte        // payload as received, unmasked
	text       utf8Validator // of msg, for uncompressed text
	out        []byte        // msg inflated
	err        error         // sticky: a *CloseError, io.EOF, io.ErrUnexpectedEOF or ErrClosed
}

// NewReader returns a Reader of the frames in br.
func NewReader(br *bufio.Reader, opts ReaderOptions) *Reader {
	r := &Reader{br: br, max: opts.MaxMessage}
	if r.max <= 0 {
		r.max = DefaultMaxMessage
	}
	if opts.Deflate != nil {
		r.inflate = &inflater{noContext: opts.Deflate.ClientNoContextTakeover}
	}
	return r
}

// Next reads frames until it has a whole message or a control frame
// and returns it. Ping, Pong and Close frames may arrive between the
// fragments of a message (RFC 6455 §5.4) and are returned as they come;
// the message goes on.
//
// Errors:
//   - a *CloseError: the client broke the protocol or a limit; fail the
//     connection with its Code (RFC 6455 §7.1.7).
//   - io.EOF: the connection ended between messages without a Close
//     frame (1006 for the application, §7.1.5); io.ErrUnexpectedEOF: it
//     ended inside a frame or message.
//   - ErrClosed: Next was called again after a Close event.
//   - any other error of the underlying reader (a read deadline, say),
//     as is: the Reader keeps its place, and Next may be called again.
//
// The first three repeat on every later call.
func (r *Reader) Next() (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	for {
		if !r.inFrame {
			if err := r.readHeader(); err != nil {
				return Event{}, err
			}
		}
		if r.op.isControl() {
			if err := r.readControl(); err != nil {
				return Event{}, err
			}
			r.inFrame = false
			return r.control()
		}
		if err := r.readData(); err != nil {
			return Event{}, err
		}
		r.inFrame = false
		if r.fin {
			return r.message()
		}
	}
}

// fail makes err the Reader's answer from now on.
func (r *Reader) fail(err error) error {
	r.err = err
	return err
}

// ioError maps an error of the underlying reader: the end of the stream
// is final, anything else (a timeout) is returned as is.
func (r *Reader) ioError(err error, atBoundary bool) error {
	if err == io.EOF {
		if atBoundary && r.msgOp == 0 {
			return r.fail(io.EOF)
		}
		return r.fail(io.ErrUnexpectedEOF)
	}
	return err
}

// readHeader reads and checks a frame header (RFC 6455 §5.2). It
// consumes nothing until the whole header is buffered, so a read error
// leaves the Reader where it was.
func (r *Reader) readHeader() error {
	b, err := r.br.Peek(2)
	if err != nil {
		return r.ioError(err, len(b) == 0)
	}
	b0, b1 := b[0], b[1]
	op := Opcode(b0 & 0x0f)
	rsv1 := b0&bitRsv1 != 0
	switch {
	// §5.2: "MUST be 0 unless an extension is negotiated that defines
	// meanings for non-zero values"; permessage-deflate defines RSV1.
	case b0&(bitRsv2|bitRsv3) != 0, rsv1 && r.inflate == nil:
		return r.fail(ErrReservedBits)
	case !op.known(): // §5.2: %x3-7 and %xB-F are reserved
		return r.fail(ErrReservedOpcode)
	// RFC 7692 §6: "An endpoint MUST NOT set the "Per-Message
	// Compressed" bit of control frames and non-first fragments of a data
	// message. An endpoint receiving such a frame MUST _Fail the
	// WebSocket Connection_."
	case rsv1 && (op.isControl() || op == OpContinuation):
		return r.fail(ErrCompressedControl)
	// §5.1: "a server MUST close the connection upon receiving a frame
	// that is not masked ... with a status code of 1002".
	case b1&bitMask == 0:
		return r.fail(ErrUnmasked)
	// §5.5: "All control frames MUST have a payload length of 125 bytes
	// or less and MUST NOT be fragmented."
	case op.isControl() && b0&bitFin == 0:
		return r.fail(ErrFragmentedControl)
	case op.isControl() && b1&0x7f > MaxControlPayload:
		return r.fail(ErrControlTooLong)
	// §5.4: a continuation continues a message; a new message may not
	// start before the last one's final frame.
	case op == OpContinuation && r.msgOp == 0:
		return r.fail(ErrUnexpectedContinue)
	case (op == OpText || op == OpBinary) && r.msgOp != 0:
		return r.fail(ErrExpectedContinuation)
	}
	n := 2 + 4
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b, err = r.br.Peek(n); err != nil {
		return r.ioError(err, false)
	}
	var length uint64
	switch b1 & 0x7f {
	case 126:
		length = uint64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		// §5.2: "the most significant bit MUST be 0". The minimal
		// encoding §5.2 asks of senders is not enforced: a longer
		// form frames the same bytes.
		if length = binary.BigEndian.Uint64(b[2:]); length>>63 != 0 {
			return r.fail(ErrLengthHighBit)
		}
	default:
		length = uint64(b1 & 0x7f)
	}
	used := 0 // of the message so far
	if op == OpContinuation {
		used = len(r.msg)
	}
	if !op.isControl() && length > uint64(r.max-used) {
		return r.fail(ErrMessageTooBig) // §10.4: before buffering it
	}
	copy(r.key[:], b[n-4:n])
	r.br.Discard(n) // n bytes are buffered: cannot fail
	r.inFrame, r.fin, r.op, r.keyPos, r.remaining = true, b0&bitFin != 0, op, 0, int64(length)
	switch {
	case op.isControl():
		r.ctrlLen = 0
	case op != OpContinuation:
		r.startMessage(op, rsv1)
	}
	return nil
}

func (r *Reader) startMessage(op Opcode, compressed bool) {
	r.msgOp, r.compressed, r.text = op, compressed, utf8Validator{}
	if cap(r.msg) > keepBuffer {
		r.msg = nil
	}
	if cap(r.out) > keepBuffer {
		r.out = nil
	}
	r.msg = r.msg[:0]
}

// readControl reads the rest of a control frame's payload into r.ctrl.
func (r *Reader) readControl() error {
	for r.remaining > 0 {
		p := r.ctrl[r.ctrlLen : r.ctrlLen+int(r.remaining)]
		n, err := r.br.Read(p)
		r.keyPos = maskBytes(r.key, r.keyPos, p[:n])
		r.ctrlLen += n
		r.remaining -= int64(n)
		if err != nil {
			return r.ioError(err, false)
		}
	}
	return nil
}

// readData reads the rest of a data frame's payload onto r.msg, growing
// it as bytes arrive (a header claiming megabytes costs nothing until
// they come) and checking uncompressed text as it goes (§8.1).
func (r *Reader) readData() error {
	for r.remaining > 0 {
		if len(r.msg) == cap(r.msg) {
			r.msg = slices.Grow(r.msg, int(min(r.remaining, int64(max(cap(r.msg), 4096)))))
		}
		room := min(int64(cap(r.msg)-len(r.msg)), r.remaining)
		p := r.msg[len(r.msg) : len(r.msg)+int(room)]
		n, err := r.br.Read(p)
		r.keyPos = maskBytes(r.key, r.keyPos, p[:n])
		r.msg = r.msg[:len(r.msg)+n]
		r.remaining -= int64(n)
		if r.msgOp == OpText && !r.compressed && !r.text.write(p[:n]) {
			return r.fail(ErrInvalidUTF8)
		}
		if err != nil {
			return r.ioError(err, false)
		}
	}
	return nil
}

// control makes the event of a whole control frame.
func (r *Reader) control() (Event, error) {
	p := r.ctrl[:r.ctrlLen]
	if r.op != OpClose {
		return Event{Op: r.op, Data: p}, nil
	}
	// §5.5.1: an optional 2-byte code, then an optional UTF-8 reason.
	ev := Event{Op: OpClose, Code: CloseNoStatus}
	switch {
	case len(p) == 1:
		return Event{}, r.fail(ErrBadClosePayload)
	case len(p) >= 2:
		ev.Code = CloseCode(binary.BigEndian.Uint16(p))
		if !ev.Code.ValidOnWire() { // §7.4
			return Event{}, r.fail(ErrBadCloseCode)
		}
		if ev.Data = p[2:]; !utf8.Valid(ev.Data) {
			return Event{}, r.fail(ErrInvalidReason)
		}
	}
	r.err = ErrClosed // nothing follows a Close frame (§5.5.1)
	return ev, nil
}

// message makes the event of a whole data message, inflating it first
// when it came compressed (RFC 7692 §6.2).
func (r *Reader) message() (Event, error) {
	ev := Event{Op: r.msgOp, Data: r.msg, Compressed: r.compressed}
	r.msgOp = 0
	if r.compressed {
		out, err := r.inflate.inflate(r.out[:0], r.msg, r.max)
		r.out = out
		if err != nil {
			return Event{}, r.fail(err)
		}
		ev.Data = out
		if ev.Op == OpText && !utf8.Valid(out) {
			return Event{}, r.fail(ErrInvalidUTF8)
		}
	} else if ev.Op == OpText && !r.text.complete() {
		return Event{}, r.fail(ErrInvalidUTF8) // ends inside a character
	}
	return ev, nil
}
