package websocket

import (
	"bytes"
	"compress/flate"
	"io"
	"sync"
)

// flateTail ends every compressed message given to the inflater (RFC 7692
// §7.2.2): the sync-flush marker the sender removed (0x00 0x00 0xff 0xff,
// an empty stored block), then an empty final stored block (0x01 0x00 0x00
// 0xff 0xff) so that flate's reader meets a final block and reports
// io.EOF instead of waiting for more data. A message whose own last
// block is final (§7.2.3.4) ends there, and the tail is never read.
const flateTail = "\x00\x00\xff\xff\x01\x00\x00\xff\xff"

// historySize is how much inflated output a context-taking-over client
// may refer back to: the 32 KiB window of RFC 1951 (RFC 7692 §7.2.2,
// client_max_window_bits ≤ 15).
const historySize = 1 << windowBits

// flateReaders pools inflaters across connections: they keep no state
// between messages (the history travels as a preset dictionary), so one
// connection holds one only while it inflates a message.
var flateReaders sync.Pool // of io.ReadCloser that is a flate.Resetter

// inflater decompresses the messages of one connection.
type inflater struct {
	// noContext is set when the client resets its context after each
	// message (client_no_context_takeover): no history is kept.
	noContext bool
	// history is the last historySize bytes inflated, with context
	// takeover: the next message's back-references reach into it, so it
	// is the preset dictionary of the next inflation (RFC 1951 §3.2.5).
	history []byte
	src     tailSource
}

// inflate appends the decompression of payload to dst, which must be
// empty, and fails with ErrMessageTooBig as soon as the output passes
// limit bytes: a small payload that inflates to gigabytes (a deflate bomb)
// costs at most limit+1 bytes of memory. Invalid data is ErrBadDeflate.
func (f *inflater) inflate(dst, payload []byte, limit int) ([]byte, error) {
	f.src = tailSource{b: payload}
	var dict []byte
	if !f.noContext {
		dict = f.history
	}
	fr, _ := flateReaders.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReaderDict(&f.src, dict)
	} else if err := fr.(flate.Resetter).Reset(&f.src, dict); err != nil {
		return dst, ErrBadDeflate
	}
	defer flateReaders.Put(fr)
	for {
		if len(dst) == cap(dst) {
			// Grow by doubling, bounded by limit+1: the +1 byte tells a
			// message of limit bytes from a longer one.
			n := min(max(2*cap(dst), 512), limit+1)
			if n <= len(dst) {
				return dst, ErrMessageTooBig
			}
			grown := make([]byte, len(dst), n)
			dst = grown[:copy(grown, dst)]
		}
		n, err := fr.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst) > limit {
			return dst, ErrMessageTooBig
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return dst, ErrBadDeflate
		}
	}
	if !f.noContext {
		f.remember(dst)
	}
	return dst, nil
}

// remember keeps the last historySize bytes of the output so far.
func (f *inflater) remember(out []byte) {
	if len(out) >= historySize {
		f.history = append(f.history[:0], out[len(out)-historySize:]...)
		return
	}
	if keep := historySize - len(out); len(f.history) > keep {
		f.history = append(f.history[:0], f.history[len(f.history)-keep:]...)
	}
	f.history = append(f.history, out...)
}

// tailSource reads b then flateTail. It is an io.ByteReader, so flate
// reads it directly instead of wrapping it in a bufio.Reader of its own.
type tailSource struct {
	b    []byte
	tail int // bytes of flateTail read
}

func (s *tailSource) ReadByte() (byte, error) {
	if len(s.b) > 0 {
		c := s.b[0]
		s.b = s.b[1:]
		return c, nil
	}
	if s.tail < len(flateTail) {
		s.tail++
		return flateTail[s.tail-1], nil
	}
	return 0, io.EOF
}

func (s *tailSource) Read(p []byte) (int, error) {
	if len(s.b) > 0 {
		n := copy(p, s.b)
		s.b = s.b[n:]
		return n, nil
	}
	if s.tail < len(flateTail) {
		n := copy(p, flateTail[s.tail:])
		s.tail += n
		return n, nil
	}
	return 0, io.EOF
}

// flateWriters pools compressors per level for connections without
// server context takeover (flate levels -2..9, index level+2).
var flateWriters [12]sync.Pool

// deflater compresses the messages of one connection.
type deflater struct {
	level int
	// fw is the connection's own compressor with context takeover; nil
	// until the first message, and always nil without.
	fw        *flate.Writer
	noContext bool
	sink      appendWriter
}

// syncMarker is what flate's Flush ends with (an empty stored block),
// removed from every message (RFC 7692 §7.2.1).
var syncMarker = []byte{0x00, 0x00, 0xff, 0xff}

// compress appends the compressed form of payload to dst: DEFLATE blocks
// ending in a sync flush (flate's Flush: byte-aligned, nothing pending),
// less the final 0x00 0x00 0xff 0xff (RFC 7692 §7.2.1). With context
// takeover the compressor keeps its window for the next message.
func (d *deflater) compress(dst, payload []byte) []byte {
	d.sink.b = dst
	fw := d.fw
	if fw == nil {
		if d.noContext {
			fw, _ = flateWriters[d.level+2].Get().(*flate.Writer)
		}
		if fw == nil {
			// NewWriter fails only on a level out of range, which
			// NewWriter (of this package) refused already.
			fw, _ = flate.NewWriter(&d.sink, d.level)
		} else {
			fw.Reset(&d.sink)
		}
		if !d.noContext {
			d.fw = fw
		}
	}
	// Writes to an appendWriter cannot fail.
	fw.Write(payload)
	fw.Flush()
	if d.noContext {
		// Not Reset here: above level 1 a reset clears 640 KB of hash
		// tables, paid once per message already. The pooled writer keeps
		// pointing at d.sink, whose buffer is dropped below.
		flateWriters[d.level+2].Put(fw)
	}
	out := d.sink.b
	d.sink.b = nil
	return bytes.TrimSuffix(out, syncMarker)
}

// appendWriter appends what is written to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
