package websocket

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// header is a test request's fields: lower-case name → lines.
type header map[string][]string

func (h header) lookup(name string) []string {
	var out []string
	for k, v := range h {
		if strings.EqualFold(k, name) {
			out = append(out, v...)
		}
	}
	return out
}

func validHeader() header {
	return header{
		"Host":                  {"example.com"},
		"Upgrade":               {"websocket"},
		"Connection":            {"Upgrade"},
		"Sec-WebSocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
		"Sec-WebSocket-Version": {"13"},
	}
}

func TestAcceptKeyRFCExample(t *testing.T) {
	// RFC 6455 §1.3.
	if got, want := AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Errorf("AcceptKey = %q; want %q", got, want)
	}
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name   string
		method string
		minor  int
		edit   func(h header)
		want   error
		check  func(t *testing.T, hs *Handshake)
	}{
		{name: "valid", check: func(t *testing.T, hs *Handshake) {
			if hs.Key != "dGhlIHNhbXBsZSBub25jZQ==" || hs.Subprotocols != nil || hs.Extensions != nil {
				t.Errorf("handshake = %+v", hs)
			}
		}},
		{name: "Firefox Connection list, mixed case", edit: func(h header) {
			h["Connection"] = []string{"keep-alive, Upgrade"}
			h["Upgrade"] = []string{"WebSocket"}
		}},
		{name: "Connection over two lines", edit: func(h header) { h["Connection"] = []string{"keep-alive", "upgrade"} }},
		{name: "Upgrade list", edit: func(h header) { h["Upgrade"] = []string{"h2c, websocket"} }},
		{name: "subprotocols over lines with empty elements", edit: func(h header) {
			h["Sec-WebSocket-Protocol"] = []string{"chat, , superchat", "v2.json"}
		}, check: func(t *testing.T, hs *Handshake) {
			if want := []string{"chat", "superchat", "v2.json"}; !reflect.DeepEqual(hs.Subprotocols, want) {
				t.Errorf("Subprotocols = %q; want %q", hs.Subprotocols, want)
			}
		}},
		{name: "extensions", edit: func(h header) {
			h["Sec-WebSocket-Extensions"] = []string{`permessage-deflate; client_max_window_bits, permessage-deflate;server_max_window_bits="10"`, "x-foo"}
		}, check: func(t *testing.T, hs *Handshake) {
			want := []Extension{
				{Name: "permessage-deflate", Params: []ExtensionParam{{Name: "client_max_window_bits"}}},
				{Name: "permessage-deflate", Params: []ExtensionParam{{Name: "server_max_window_bits", Value: "10", HasValue: true}}},
				{Name: "x-foo"},
			}
			if !reflect.DeepEqual(hs.Extensions, want) {
				t.Errorf("Extensions = %+v; want %+v", hs.Extensions, want)
			}
		}},
		{name: "HTTP/1.2 is at least 1.1", minor: 2},
		{name: "POST", method: "POST", want: ErrMethodNotGet},
		{name: "lower-case get", method: "get", want: ErrMethodNotGet},
		{name: "HTTP/1.0", minor: -1, want: ErrHTTPVersion},
		{name: "no Host", edit: func(h header) { delete(h, "Host") }, want: ErrMissingHost},
		{name: "no Upgrade", edit: func(h header) { delete(h, "Upgrade") }, want: ErrNotUpgrade},
		{name: "Upgrade h2c", edit: func(h header) { h["Upgrade"] = []string{"h2c"} }, want: ErrNotUpgrade},
		{name: "no Connection", edit: func(h header) { delete(h, "Connection") }, want: ErrNoConnectionUpgrade},
		{name: "Connection keep-alive only", edit: func(h header) { h["Connection"] = []string{"keep-alive"} }, want: ErrNoConnectionUpgrade},
		{name: "Connection upgraded is not upgrade", edit: func(h header) { h["Connection"] = []string{"upgraded"} }, want: ErrNoConnectionUpgrade},
		{name: "no version", edit: func(h header) { delete(h, "Sec-WebSocket-Version") }, want: ErrUnsupportedVersion},
		{name: "version 8", edit: func(h header) { h["Sec-WebSocket-Version"] = []string{"8"} }, want: ErrUnsupportedVersion},
		{name: "version 13, 8", edit: func(h header) { h["Sec-WebSocket-Version"] = []string{"13, 8"} }, want: ErrUnsupportedVersion},
		{name: "version twice", edit: func(h header) { h["Sec-WebSocket-Version"] = []string{"13", "13"} }, want: ErrBadVersionHeader},
		{name: "no key", edit: func(h header) { delete(h, "Sec-WebSocket-Key") }, want: ErrBadKey},
		{name: "key twice", edit: func(h header) {
			h["Sec-WebSocket-Key"] = []string{"dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ=="}
		}, want: ErrBadKey},
		{name: "key of 15 bytes", edit: func(h header) { h["Sec-WebSocket-Key"] = []string{"dGhlIHNhbXBsZSBub25j"} }, want: ErrBadKey},
		{name: "key of 17 bytes", edit: func(h header) { h["Sec-WebSocket-Key"] = []string{"dGhlIHNhbXBsZSBub25jZXM="} }, want: ErrBadKey},
		{name: "key not base64", edit: func(h header) { h["Sec-WebSocket-Key"] = []string{"dGhlIHNhbXBsZSBub25j!Q=="} }, want: ErrBadKey},
		{name: "key with stray bits", edit: func(h header) { h["Sec-WebSocket-Key"] = []string{"dGhlIHNhbXBsZSBub25jZR=="} }, want: ErrBadKey},
		{name: "key URL alphabet", edit: func(h header) { h["Sec-WebSocket-Key"] = []string{"-_-_-_-_-_-_-_-_-_-_-w=="} }, want: ErrBadKey},
		{name: "subprotocol not a token", edit: func(h header) { h["Sec-WebSocket-Protocol"] = []string{"chat room"} }, want: ErrBadProtocolHeader},
		{name: "subprotocol with slash", edit: func(h header) { h["Sec-WebSocket-Protocol"] = []string{"a/b"} }, want: ErrBadProtocolHeader},
		{name: "extension param without name", edit: func(h header) { h["Sec-WebSocket-Extensions"] = []string{"permessage-deflate; =1"} }, want: ErrBadExtensionsHeader},
		{name: "extension empty value", edit: func(h header) { h["Sec-WebSocket-Extensions"] = []string{"permessage-deflate; a="} }, want: ErrBadExtensionsHeader},
		{name: "extension quoted non-token", edit: func(h header) { h["Sec-WebSocket-Extensions"] = []string{`x; a="b c"`} }, want: ErrBadExtensionsHeader},
		{name: "extension unterminated quote", edit: func(h header) { h["Sec-WebSocket-Extensions"] = []string{`x; a="b`} }, want: ErrBadExtensionsHeader},
		{name: "extension junk after name", edit: func(h header) { h["Sec-WebSocket-Extensions"] = []string{"x y"} }, want: ErrBadExtensionsHeader},
		{name: "extension starting with ;", edit: func(h header) { h["Sec-WebSocket-Extensions"] = []string{"; a"} }, want: ErrBadExtensionsHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := validHeader()
			if tt.edit != nil {
				tt.edit(h)
			}
			method := tt.method
			if method == "" {
				method = "GET"
			}
			hs, err := ParseRequest(Request{Method: method, Major: 1, Minor: 1 + tt.minor, Header: h.lookup})
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseRequest = %v; want %v", err, tt.want)
			}
			var he *HandshakeError
			if errors.As(err, &he) && strings.Contains(he.Reason, "\n") {
				t.Errorf("reason %q", he.Reason)
			}
			if err == nil && tt.check != nil {
				tt.check(t, hs)
			}
		})
	}
}

func TestUnsupportedVersionAnswer(t *testing.T) {
	// RFC 6455 §4.4: the answer names the versions the server speaks.
	e := ErrUnsupportedVersion
	if e.Status != 426 || !reflect.DeepEqual(e.Header, [][2]string{{"Sec-WebSocket-Version", "13"}}) {
		t.Errorf("ErrUnsupportedVersion = %+v", e)
	}
}

func TestAppendResponse(t *testing.T) {
	h := validHeader()
	h["Sec-WebSocket-Protocol"] = []string{"chat, superchat"}
	hs, err := ParseRequest(Request{Method: "GET", Major: 1, Minor: 1, Header: h.lookup})
	if err != nil {
		t.Fatal(err)
	}
	got, err := hs.AppendResponse([]byte("x"), Response{
		Subprotocol: "superchat",
		Deflate:     &DeflateParams{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 15},
		Header:      [][2]string{{"Set-Cookie", "a=b"}, {"X-Empty", ""}},
	})
	want := "x" + "HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
		"Sec-WebSocket-Protocol: superchat\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15\r\n" +
		"Set-Cookie: a=b\r\n" +
		"X-Empty: \r\n" +
		"\r\n"
	if err != nil || string(got) != want {
		t.Errorf("AppendResponse = %q, %v;\nwant %q", got, err, want)
	}
	plain, err := hs.AppendResponse(nil, Response{})
	if want := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"; err != nil || string(plain) != want {
		t.Errorf("AppendResponse = %q, %v; want %q", plain, err, want)
	}

	refused := []struct {
		name string
		resp Response
		want error
	}{
		{"subprotocol not offered", Response{Subprotocol: "other"}, ErrSubprotocolNotOffered},
		{"Sec-WebSocket-Accept", Response{Header: [][2]string{{"sec-websocket-accept", "x"}}}, ErrReservedHeader},
		{"Sec-WebSocket-Extensions", Response{Header: [][2]string{{"Sec-WebSocket-Extensions", "x"}}}, ErrReservedHeader},
		{"Connection", Response{Header: [][2]string{{"CONNECTION", "close"}}}, ErrReservedHeader},
		{"Content-Length", Response{Header: [][2]string{{"Content-Length", "0"}}}, ErrReservedHeader},
		{"CRLF in value", Response{Header: [][2]string{{"X-A", "b\r\nX-Evil: 1"}}}, ErrInvalidHeader},
		{"NUL in value", Response{Header: [][2]string{{"X-A", "b\x00"}}}, ErrInvalidHeader},
		{"space in name", Response{Header: [][2]string{{"X A", "b"}}}, ErrInvalidHeader},
		{"empty name", Response{Header: [][2]string{{"", "b"}}}, ErrInvalidHeader},
	}
	for _, tt := range refused {
		got, err := hs.AppendResponse([]byte("keep"), tt.resp)
		if !errors.Is(err, tt.want) || string(got) != "keep" {
			t.Errorf("%s: AppendResponse = %q, %v; want %q, %v", tt.name, got, err, "keep", tt.want)
		}
	}
}

func TestIsUpgrade(t *testing.T) {
	for _, tt := range []struct {
		upgrade []string
		want    bool
	}{
		{nil, false}, {[]string{"websocket"}, true}, {[]string{"WebSocket"}, true},
		{[]string{"h2c"}, false}, {[]string{"h2c", "websocket"}, true}, {[]string{"websockets"}, false},
	} {
		h := header{"Upgrade": tt.upgrade}
		if got := IsUpgrade(h.lookup); got != tt.want {
			t.Errorf("IsUpgrade(Upgrade: %q) = %v; want %v", tt.upgrade, got, tt.want)
		}
	}
}
