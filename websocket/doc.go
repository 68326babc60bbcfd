// Package websocket is the WebSocket protocol (RFC 6455) with the
// permessage-deflate extension (RFC 7692), server side, for gowsgi's
// engine after an HTTP/1.1 Upgrade. It knows nothing of Python, ASGI or
// the worker, imports the standard library only, starts no goroutine
// and takes no lock: the goroutine that owns a connection owns its
// Reader and Writer, and the frames are appended to the caller's
// buffers, to be written when and how the caller likes.
//
// # Use
//
//	hs, err := websocket.ParseRequest(websocket.Request{Method: "GET", Major: 1, Minor: 1, Header: lookup})
//	if err != nil { // *HandshakeError: answer e.Status, e.Header, e.Reason; close }
//	params, ok := websocket.NegotiateDeflate(hs.Extensions, websocket.DeflateOptions{})
//	var deflate *websocket.DeflateParams // nil: uncompressed
//	if ok { deflate = &params }
//	out, err = hs.AppendResponse(out, websocket.Response{Subprotocol: "chat", Deflate: deflate})
//	r := websocket.NewReader(br, websocket.ReaderOptions{MaxMessage: n, Deflate: deflate})
//	w, _ := websocket.NewWriter(deflate)
//	for { ev, err := r.Next() // OpText/OpBinary message, OpPing (answer AppendPong), OpPong, OpClose (echo AppendClose)
//	      out = w.AppendMessage(out, websocket.OpText, data) }
//
// On a *CloseError from Next, send AppendClose(out, e.Code, e.Reason),
// then close the connection (RFC 6455 §7.1.7): stop writing and read to
// the client's end (with a deadline) first, since closing a socket with
// unread bytes resets the connection and can lose the Close frame.
//
// # Rules enforced on what a client sends
//
// Each fails the connection with the code RFC 6455 gives it (a
// *CloseError); each has a case in reader_test.go:
//   - unmasked frame (§5.1), RSV2/RSV3 set, or RSV1 without
//     permessage-deflate (§5.2), a reserved opcode (§5.2): 1002.
//   - a control frame that is fragmented or over 125 bytes (§5.5), a
//     64-bit length with its top bit set (§5.2), a continuation without a
//     message or a new message inside one (§5.4), RSV1 on a control or
//     continuation frame (RFC 7692 §6), invalid compressed data: 1002.
//   - a Close frame with a 1-byte payload or a code not allowed on the
//     wire (§5.5.1, §7.4: 1000-1003, 1007-1014, 3000-4999 only): 1002.
//   - text or a close reason that is not UTF-8 (§8.1): 1007, checked as
//     fragments arrive, not when the message ends.
//   - a message, as received or inflated, over ReaderOptions.MaxMessage
//     (§10.4): 1009, before the bytes are buffered or inflated further;
//     a deflate bomb stops at the limit.
//
// Accepted although §5.2 asks senders otherwise: a length in a longer
// encoding than needed (it frames the same bytes, and Python's
// websockets reads it too).
//
// # permessage-deflate
//
// compress/flate always compresses with a 32 KiB window and cannot be
// told otherwise, so an offer with server_max_window_bits below 15 is
// declined (the connection then runs uncompressed; RFC 7692 §5.1);
// every client_max_window_bits is accepted, as flate's inflater reads
// any window up to 32 KiB. Context takeover is kept on both sides unless
// the client or DeflateOptions turn it off: the inflater keeps the last
// 32 KiB inflated as the next message's preset dictionary, and the
// compressor is kept per connection (about 1 MB: see
// DeflateOptions.ServerNoContextTakeover for the pooled alternative).
package websocket
