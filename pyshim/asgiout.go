package pyshim

/*
#include "asgi.h"
*/
import "C"

import (
	"encoding/binary"
	"os"
	"strconv"
	"strings"
	"unsafe"
)

// dispatch is the Loop's goroutine that hands the app's events to their
// Conns: the loop thread queues them in C (asgiout.c) and writes l.out
// when it queues the first event since this goroutine's last take; Go's
// poller wakes this goroutine, which takes the whole batch. The loop
// thread thus never runs Go code, and the events it queues while this
// goroutine wakes join one batch, rather than cost a cgo callback each
// waiting for a P.
func (l *Loop) dispatch() {
	var b [8]byte
	for {
		if _, err := l.out.Read(b[:]); err != nil {
			return // release closed it
		}
		l.dmu.Lock()
		if !l.outEnded {
			l.takeLocked()
		}
		l.dmu.Unlock()
	}
}

// takeLocked takes the events the app sent and delivers them, in order.
// l.dmu held; the queue not yet freed.
func (l *Loop) takeLocked() {
	var n C.size_t
	p := C.gw_oq_take(l.q, &n)
	if n == 0 {
		return
	}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
	for off := 0; off < len(buf); {
		r := (*C.gw_orec)(unsafe.Pointer(&buf[off]))
		size := C.sizeof_gw_orec + int(r.head_len) + int(r.text_len)
		if r.body_ptr == nil {
			size += int(r.body_len)
		}
		l.deliver(r, buf[off+C.sizeof_gw_orec:off+size])
		off += (size + 7) &^ 7
	}
	if C.gw_oq_done(l.q) != 0 {
		// The app's long bytes bodies were copied: the loop drops them
		// at its next take, which this (a no-op event) brings about now.
		l.post(0, C.GW_IN_PING, 0, 0, nil)
	}
}

// deliver hands one event to its Conn, as Go copies: the record's
// memory is the queue's.
func (l *Loop) deliver(r *C.gw_orec, payload []byte) {
	head := payload[:r.head_len]
	var body []byte
	if r.body_ptr != nil {
		body = unsafe.Slice((*byte)(unsafe.Pointer(r.body_ptr)), int(r.body_len))
	} else {
		body = payload[len(head) : len(head)+int(r.body_len)]
	}
	text := string(payload[len(payload)-int(r.text_len):])
	kind, status, flags := SentKind(r.kind), int(r.status), int(r.flags)
	var zc zerocopyRegion
	if kind == SentZeroCopy {
		zc = parseZerocopy(text) // owns the descriptor from here, whoever takes the event
	}
	if r.conn == 0 {
		switch kind {
		case C.GW_OUT_LIFESPAN:
			select {
			case l.lifespan <- lifespanResult{what: status, text: text}:
			default: // nobody waits: a late or repeated answer
			}
		case C.GW_OUT_LOG:
			l.logf(text)
		}
		return
	}
	l.mu.Lock()
	c := l.conns[uint64(r.conn)]
	l.mu.Unlock()
	if c == nil {
		zc.file.Close()
		return // over: the app's events after its end go nowhere
	}
	ev := Sent{Kind: kind, Status: status, More: flags&C.GW_OF_MORE != 0,
		Trailers: flags&C.GW_OF_TRAILERS != 0, Text: flags&C.GW_OF_TEXT != 0}
	if r.nheaders > 0 {
		ev.Headers = decodeHeaders(append([]byte(nil), head...), int(r.nheaders))
	}
	if len(body) > 0 {
		ev.Body = newBody(body) // the taker may give it back: ReleaseBody
	}
	switch kind {
	case SentPathSend:
		ev.Path = text
	case SentZeroCopy:
		ev.File, ev.Offset, ev.Count = zc.file, zc.offset, zc.count
	case SentWSAccept:
		ev.Subprotocol = text
	case SentWSClose:
		ev.Reason = text
	case SentDone:
		ev.Traceback = text
		ev.ClientGone = flags&1 != 0
		c.finish(ev)
		return
	case SentWant:
		c.want()
		return
	}
	c.push(ev, int(r.cost))
}

// decodeHeaders reads n [u32 len][name][u32 len][value] records.
func decodeHeaders(b []byte, n int) [][2][]byte {
	hs := make([][2][]byte, 0, n)
	for range n {
		k := binary.NativeEndian.Uint32(b)
		name := b[4 : 4+k : 4+k]
		b = b[4+k:]
		m := binary.NativeEndian.Uint32(b)
		hs = append(hs, [2][]byte{name, b[4 : 4+m : 4+m]})
		b = b[4+m:]
	}
	return hs
}

// zerocopyRegion is an http.response.zerocopysend's file region.
type zerocopyRegion struct {
	file          *os.File // nil when the text was not a region (never: asgi.py writes it)
	offset, count int64
}

// parseZerocopy reads asgi.py's "FD OFFSET COUNT" (zerocopy_region);
// the descriptor is then the returned File's.
func parseZerocopy(text string) zerocopyRegion {
	f := strings.Fields(text)
	if len(f) != 3 {
		return zerocopyRegion{}
	}
	fd, err1 := strconv.Atoi(f[0])
	off, err2 := strconv.ParseInt(f[1], 10, 64)
	n, err3 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || fd < 0 {
		return zerocopyRegion{}
	}
	return zerocopyRegion{file: os.NewFile(uintptr(fd), "zerocopysend"), offset: off, count: n}
}

// CloseFiles closes the zerocopysend files of events dropped untaken.
func CloseFiles(evs []Sent) {
	for i := range evs {
		if evs[i].File != nil {
			evs[i].File.Close()
			evs[i].File = nil
		}
	}
}
