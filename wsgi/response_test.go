package wsgi

import (
	"errors"
	"strings"
	"testing"
)

func headers(kv ...string) [][2][]byte {
	var hs [][2][]byte
	for i := 0; i < len(kv); i += 2 {
		hs = append(hs, [2][]byte{[]byte(kv[i]), []byte(kv[i+1])})
	}
	return hs
}

var date = []byte("Wed, 25 Nov 2026 15:00:00 GMT")

func TestAppendHeadFraming(t *testing.T) {
	tests := []struct {
		name        string
		status      string
		headers     []string
		x           Exchange
		wantFraming Framing
		wantKeep    bool
		contains    []string
		lacks       []string
	}{{
		name: "known body gets a length", status: "200 OK", headers: []string{"Content-Type", "text/plain"},
		x:           Exchange{Minor: 1, KeepAlive: true, BodyLen: 5},
		wantFraming: FrameLength, wantKeep: true,
		contains: []string{"HTTP/1.1 200 OK\r\n", "Content-Length: 5\r\n", "Date: ", "Server: gowsgi\r\n"},
		lacks:    []string{"Connection:", "Transfer-Encoding"},
	}, {
		name: "streaming on 1.1 is chunked", status: "200 OK",
		x:           Exchange{Minor: 1, KeepAlive: true, BodyLen: -1},
		wantFraming: FrameChunked, wantKeep: true,
		contains: []string{"Transfer-Encoding: chunked\r\n"},
	}, {
		name: "streaming on 1.0 closes", status: "200 OK",
		x:           Exchange{Minor: 0, KeepAlive: true, BodyLen: -1},
		wantFraming: FrameClose, wantKeep: false,
		contains: []string{"Connection: close\r\n"},
	}, {
		name: "1.0 keep-alive with a length says so", status: "200 OK",
		x:           Exchange{Minor: 0, KeepAlive: true, BodyLen: 2},
		wantFraming: FrameLength, wantKeep: true,
		contains: []string{"Connection: keep-alive\r\n"},
	}, {
		name: "hop-by-hop from the app dropped, Connection close honoured", status: "200 OK",
		headers:     []string{"Connection", "close", "Transfer-Encoding", "chunked", "Keep-Alive", "timeout=5"},
		x:           Exchange{Minor: 1, KeepAlive: true, BodyLen: 1},
		wantFraming: FrameLength, wantKeep: false,
		contains: []string{"Connection: close\r\n"},
		lacks:    []string{"chunked", "timeout=5"},
	}, {
		// Django writes every cookie as c.output(header=""): " a=1; Path=/".
		name: "values lose their leading and trailing whitespace, as under Gunicorn", status: "200 OK",
		headers:     []string{"Set-Cookie", " a=1; Path=/", "X-Padded", "\t  inner  space \t", "X-Blank", "  "},
		x:           Exchange{Minor: 1, KeepAlive: true, BodyLen: 1},
		wantFraming: FrameLength, wantKeep: true,
		contains: []string{"\r\nSet-Cookie: a=1; Path=/\r\n", "\r\nX-Padded: inner  space\r\n", "\r\nX-Blank: \r\n"},
	}, {
		name: "204 has no body and no length", status: "204 No Content", headers: []string{"Content-Length", "0"},
		x:           Exchange{Minor: 1, KeepAlive: true, BodyLen: 0},
		wantFraming: FrameNone, wantKeep: true,
		lacks: []string{"Content-Length"},
	}, {
		name: "HEAD gets the length a GET would", status: "200 OK",
		x:           Exchange{Minor: 1, Head: true, KeepAlive: true, BodyLen: 18},
		wantFraming: FrameNone, wantKeep: true,
		contains: []string{"Content-Length: 18\r\n"},
	}, {
		name: "HEAD of a 204 with a body gets no length", status: "204 No Content",
		x:           Exchange{Minor: 1, Head: true, KeepAlive: true, BodyLen: 18},
		wantFraming: FrameNone, wantKeep: true,
		lacks: []string{"Content-Length"},
	}, {
		name: "HEAD of a 304 with a body gets no length, as its GET", status: "304 Not Modified",
		x:           Exchange{Minor: 1, Head: true, KeepAlive: true, BodyLen: 18},
		wantFraming: FrameNone, wantKeep: true,
		lacks: []string{"Content-Length"},
	}, {
		name: "HEAD keeps the app's length", status: "200 OK", headers: []string{"Content-Length", "42"},
		x:           Exchange{Minor: 1, Head: true, KeepAlive: true, BodyLen: 0},
		wantFraming: FrameNone, wantKeep: true,
		contains: []string{"Content-Length: 42\r\n"},
	}, {
		name: "a length up to int64, as the HTTP parser takes a request's", status: "200 OK", headers: []string{"Content-Length", "9223372036854775807"},
		x:           Exchange{Minor: 1, Head: true, KeepAlive: true, BodyLen: 0},
		wantFraming: FrameNone, wantKeep: true,
		contains: []string{"Content-Length: 9223372036854775807\r\n"},
	}, {
		name: "app Date and Server win", status: "200 OK", headers: []string{"Date", "x", "Server", "y"},
		x:           Exchange{Minor: 1, KeepAlive: true, BodyLen: 0},
		wantFraming: FrameLength, wantKeep: true,
		contains: []string{"Date: x\r\n", "Server: y\r\n"},
		lacks:    []string{"gowsgi"},
	}, {
		name: "spaces around the app's length go", status: "200 OK", headers: []string{"Content-Length", " 5 "},
		x:           Exchange{Minor: 1, KeepAlive: true, BodyLen: -1},
		wantFraming: FrameLength, wantKeep: true,
		contains: []string{"\r\nContent-Length: 5\r\n"},
	}, {
		name: "a 426 names the protocol to upgrade to", status: "426 Upgrade Required",
		headers:     []string{"Upgrade", "websocket", "Connection", "Upgrade"},
		x:           Exchange{Minor: 1, KeepAlive: true, BodyLen: 0},
		wantFraming: FrameLength, wantKeep: true,
		contains: []string{"\r\nUpgrade: websocket\r\n", "\r\nConnection: upgrade\r\n"},
	}, {
		name: "Upgrade on a closing HTTP/1.0 response", status: "426 Upgrade Required",
		headers:     []string{"Upgrade", "h2c"},
		x:           Exchange{Minor: 0, KeepAlive: false, BodyLen: 0},
		wantFraming: FrameLength,
		contains:    []string{"\r\nUpgrade: h2c\r\n", "\r\nConnection: close, upgrade\r\n"},
	}, {
		name: "a bare code gets its reason phrase", status: "404",
		x:           Exchange{Minor: 1, KeepAlive: true, BodyLen: 0},
		wantFraming: FrameLength, wantKeep: true,
		contains: []string{"HTTP/1.1 404 Not Found\r\n"},
	}, {
		name: "an empty reason stays empty", status: "404 ",
		x:           Exchange{Minor: 1, KeepAlive: true, BodyLen: 0},
		wantFraming: FrameLength, wantKeep: true,
		contains: []string{"HTTP/1.1 404 \r\n"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head, plan, err := AppendHead(nil, []byte(tt.status), headers(tt.headers...), tt.x, date)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Framing != tt.wantFraming || plan.KeepAlive != tt.wantKeep {
				t.Errorf("plan = %+v; want framing %v keep-alive %v", plan, tt.wantFraming, tt.wantKeep)
			}
			if !strings.HasSuffix(string(head), "\r\n\r\n") {
				t.Errorf("head does not end with an empty line: %q", head)
			}
			for _, s := range tt.contains {
				if !strings.Contains(string(head), s) {
					t.Errorf("head %q lacks %q", head, s)
				}
			}
			for _, s := range tt.lacks {
				if strings.Contains(string(head), s) {
					t.Errorf("head %q contains %q", head, s)
				}
			}
		})
	}
}

func TestAppendHeadRejects(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		headers []string
		want    error
	}{
		{name: "no separator before the reason", status: "200OK", want: ErrBadStatus},
		{name: "two digits", status: "20", want: ErrBadStatus},
		{name: "letters in code", status: "2x0 OK", want: ErrBadStatus},
		{name: "CR in status", status: "200 OK\r\nX: y", want: ErrBadStatus},
		{name: "response splitting in value", status: "200 OK", headers: []string{"X", "a\r\nSet-Cookie: s=1"}, want: ErrBadHeaderValue},
		{name: "NUL in value", status: "200 OK", headers: []string{"X", "a\x00"}, want: ErrBadHeaderValue},
		{name: "space in name", status: "200 OK", headers: []string{"X Y", "1"}, want: ErrBadHeaderName},
		{name: "colon in name", status: "200 OK", headers: []string{"X:", "1"}, want: ErrBadHeaderName},
		{name: "signed length", status: "200 OK", headers: []string{"Content-Length", "+5"}, want: ErrBadContentLength},
		{name: "empty length", status: "200 OK", headers: []string{"Content-Length", ""}, want: ErrBadContentLength},
		{name: "space inside the length", status: "200 OK", headers: []string{"Content-Length", "5 5"}, want: ErrBadContentLength},
		{name: "length over int64", status: "200 OK", headers: []string{"Content-Length", "9223372036854775808"}, want: ErrBadContentLength},
		{name: "empty name", status: "200 OK", headers: []string{"", "1"}, want: ErrBadHeaderName},
		{name: "non-ASCII name", status: "200 OK", headers: []string{"X-\xe9", "1"}, want: ErrBadHeaderName},
		{name: "two lengths", status: "200 OK", headers: []string{"Content-Length", "5", "Content-Length", "6"}, want: ErrBadContentLength},
		{name: "interim 100", status: "100 Continue", want: ErrInterimStatus},
		{name: "interim 103", status: "103 Early Hints", want: ErrInterimStatus},
		{name: "101 without a switch", status: "101 Switching Protocols", want: ErrInterimStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			got, _, err := AppendHead(dst, []byte(tt.status), headers(tt.headers...), Exchange{Minor: 1, BodyLen: -1}, date)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v; want %v", err, tt.want)
			}
			if string(got) != "keep" {
				t.Fatalf("a rejected head left bytes behind: %q", got)
			}
		})
	}
}

// The error names what was wrong, so the log shows the app's mistake.
func TestAppendHeadErrorsQuoteTheValue(t *testing.T) {
	for _, tt := range []struct {
		status  string
		headers []string
		want    string
	}{
		{"2000 X", nil, `wsgi: status must be a 3-digit code, a space and a reason phrase: "2000 X"`},
		{"", nil, `wsgi: status must be a 3-digit code, a space and a reason phrase: ""`},
		{"101 Switching Protocols", nil, `wsgi: a 1xx status is interim; the response must be final (200 or above): "101 Switching Protocols"`},
		{"200 OK", []string{"Content-Length", "abc"}, `wsgi: response Content-Length is not a single non-negative integer: "Content-Length": "abc"`},
		{"200 OK", []string{"X-A", "a\r\nb"}, `wsgi: response header value contains a control character: "X-A": "a\r\nb"`},
		{"200 OK", []string{"X-A", strings.Repeat("v", 200) + "\n"}, `wsgi: response header value contains a control character: "X-A": "` + strings.Repeat("v", 120) + `"...`},
		{"200 OK", []string{"X Y", "1"}, `wsgi: response header name is not a token: "X Y"`},
	} {
		_, _, err := AppendHead(nil, []byte(tt.status), headers(tt.headers...), Exchange{Minor: 1, BodyLen: -1}, date)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q %q: error %v; want %s", tt.status, tt.headers, err, tt.want)
		}
	}
}

func BenchmarkAppendHead(b *testing.B) {
	dst := make([]byte, 0, 512)
	h := headers("Content-Type", "text/plain", "Content-Length", "13")
	b.ReportAllocs()
	for b.Loop() {
		AppendHead(dst[:0], []byte("200 OK"), h, Exchange{Minor: 1, KeepAlive: true, BodyLen: 13}, date)
	}
}

// The head is framed on every response: it must not allocate.
func TestAppendHeadAllocs(t *testing.T) {
	dst := make([]byte, 0, 512)
	h := headers("Content-Type", "text/plain", "Content-Length", "13", "Set-Cookie", "a=b")
	x := Exchange{Minor: 1, KeepAlive: true, BodyLen: 13}
	if n := testing.AllocsPerRun(100, func() { AppendHead(dst[:0], []byte("200 OK"), h, x, date) }); n != 0 {
		t.Fatalf("AppendHead allocates %v times per response; want 0", n)
	}
}

func TestReasonPhraseIsRFC9110s(t *testing.T) {
	for code, want := range map[int]string{200: "OK", 413: "Content Too Large", 414: "URI Too Long",
		416: "Range Not Satisfiable", 422: "Unprocessable Content", 431: "Request Header Fields Too Large", 599: ""} {
		if got := ReasonPhrase(code); got != want {
			t.Errorf("ReasonPhrase(%d) = %q; want %q", code, got, want)
		}
	}
}
