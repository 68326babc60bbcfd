package wsgi

import "testing"

func TestLookup(t *testing.T) {
	req := parse(t, "GET /p?q=1 HTTP/1.1\r\nHost: h:81\r\nX-Trace-Id: abc\r\nUser-Agent: ua\r\n\r\n")
	var e Environ
	c := testConn
	c.Scheme = "https"
	e.Build(req, &c, -1)
	tests := []struct {
		key, want string
		found     bool
	}{
		{"REMOTE_ADDR", "10.0.0.7", true},
		{"remote_addr", "10.0.0.7", true},
		{"wsgi.url_scheme", "https", true},
		{"QUERY_STRING", "q=1", true},
		{"HTTP_X_TRACE_ID", "abc", true}, // not a well-known key: encoded by name
		{"http_user_agent", "ua", true},
		{"SERVER_PORT", "81", true},
		{"HTTP_ABSENT", "", false},
		{"CONTENT_TYPE", "", false},
	}
	for _, tt := range tests {
		got, ok := e.Lookup(tt.key)
		if got != tt.want || ok != tt.found {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.found)
		}
	}
}
