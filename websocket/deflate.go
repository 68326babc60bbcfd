package websocket

import "strconv"

// DeflateOptions are the server's permessage-deflate settings (RFC 7692).
type DeflateOptions struct {
	// ServerNoContextTakeover makes the server reset its compressor after
	// every message even when the client did not ask for it (§7.1.1.1
	// lets the server say so unasked). The compressor then comes from a
	// pool shared by all connections instead of being held by each one:
	// Go's flate.Writer takes 0.8 MB (level 6) to 1.2 MB (level 1),
	// measured on Go 1.26, the largest memory cost of an idle compressed
	// connection. Compression ratio is lower on small similar messages.
	ServerNoContextTakeover bool
	// ClientNoContextTakeover tells the client to reset its compressor
	// after every message (§7.1.1.2), so the server keeps no 32 KiB
	// history of what it inflated per connection.
	ClientNoContextTakeover bool
	// Level is the compress/flate level for outgoing messages; 0 means
	// flate.BestSpeed (1).
	Level int
	// MinSize is the size under which an outgoing message is sent
	// uncompressed (§6: compression is per message, RSV1 says which);
	// 0 means 128 bytes. Deflate adds a few bytes to short messages.
	MinSize int
}

// DeflateParams are the permessage-deflate parameters agreed with one
// client, from NegotiateDeflate; they configure the Reader, the Writer
// and the Sec-WebSocket-Extensions answer.
type DeflateParams struct {
	// ServerNoContextTakeover: the server resets its compressor after
	// each message.
	ServerNoContextTakeover bool
	// ClientNoContextTakeover: the client resets its compressor after each
	// message, so the server's inflater keeps no history.
	ClientNoContextTakeover bool
	// ServerMaxWindowBits is 15 when the client's offer named
	// server_max_window_bits=15 (answered with the same, §7.1.2.1), else 0.
	ServerMaxWindowBits int
	// Level and MinSize are the DeflateOptions' (defaults applied).
	Level, MinSize int
}

// DeflateName is the extension token of RFC 7692 §7.
const DeflateName = "permessage-deflate"

// windowBits is the only LZ77 window compress/flate compresses with: 32
// KiB, 2^15 (RFC 1951 §2; flate has no window setting).
const windowBits = 15

// NegotiateDeflate picks the first permessage-deflate offer of exts the
// server can honour (RFC 7692 §5, §7.1) and returns the agreed
// parameters; ok is false when there is none, and the connection then
// runs uncompressed (declining is not an error: §5.1).
//
// An offer is declined (§7.1: "A server MUST decline...") when it has a
// parameter not defined for an offer, a parameter twice, or an invalid
// value (window bits are 8 to 15, in decimal without leading zeros,
// §7.1.2), and also when it asks for server_max_window_bits below 15:
// the server's compressor would have to keep its back-references within
// that window, and compress/flate always uses 32 KiB. client_max_window_bits
// with or without a value is accepted and not answered (§7.1.2.2: the
// client then uses the window it offered, at most 32 KiB, which flate's
// inflater reads whatever its size).
func NegotiateDeflate(exts []Extension, opts DeflateOptions) (DeflateParams, bool) {
	for _, ext := range exts {
		if ext.Name != DeflateName {
			continue
		}
		if p, ok := acceptOffer(ext.Params, opts); ok {
			return p, true
		}
	}
	return DeflateParams{}, false
}

func acceptOffer(params []ExtensionParam, opts DeflateOptions) (DeflateParams, bool) {
	p := DeflateParams{
		ServerNoContextTakeover: opts.ServerNoContextTakeover,
		ClientNoContextTakeover: opts.ClientNoContextTakeover,
		Level:                   opts.Level,
		MinSize:                 opts.MinSize,
	}
	if p.Level == 0 {
		p.Level = 1
	}
	if p.MinSize == 0 {
		p.MinSize = 128
	}
	seen := map[string]bool{}
	for _, param := range params {
		if seen[param.Name] {
			return p, false
		}
		seen[param.Name] = true
		switch param.Name {
		case "server_no_context_takeover": // §7.1.1.1: no value
			if param.HasValue {
				return p, false
			}
			p.ServerNoContextTakeover = true
		case "client_no_context_takeover": // §7.1.1.2: no value
			if param.HasValue {
				return p, false
			}
			// A hint that the client will not use context takeover;
			// answering it makes the promise binding (§7.1.1.2), and
			// the inflater can then drop its history.
			p.ClientNoContextTakeover = true
		case "server_max_window_bits": // §7.1.2.1: a value is required
			bits, ok := parseWindowBits(param)
			if !ok || bits != windowBits {
				return p, false
			}
			p.ServerMaxWindowBits = windowBits
		case "client_max_window_bits": // §7.1.2.2: the value is optional
			if param.HasValue {
				if _, ok := parseWindowBits(param); !ok {
					return p, false
				}
			}
		default:
			return p, false
		}
	}
	return p, true
}

// parseWindowBits reads a window size parameter: "8" to "15", no sign,
// no leading zero (RFC 7692 §7.1.2.1): "15" → 15; "015", "16", "" → !ok.
func parseWindowBits(param ExtensionParam) (int, bool) {
	v := param.Value
	if !param.HasValue || v == "" || v[0] == '0' || len(v) > 2 {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 8 || n > 15 || v[0] == '+' {
		return 0, false
	}
	return n, true
}

// appendValue appends the Sec-WebSocket-Extensions answer for p (RFC 7692
// §7.1): "permessage-deflate; server_no_context_takeover".
func (p *DeflateParams) appendValue(dst []byte) []byte {
	dst = append(dst, DeflateName...)
	if p.ServerNoContextTakeover {
		dst = append(dst, "; server_no_context_takeover"...)
	}
	if p.ClientNoContextTakeover {
		dst = append(dst, "; client_no_context_takeover"...)
	}
	if p.ServerMaxWindowBits != 0 {
		dst = append(dst, "; server_max_window_bits="...)
		dst = strconv.AppendInt(dst, int64(p.ServerMaxWindowBits), 10)
	}
	return dst
}

// String is the Sec-WebSocket-Extensions value for p.
func (p DeflateParams) String() string { return string(p.appendValue(nil)) }
