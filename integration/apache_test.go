package integration

import (
	"net/http"
	"strconv"
	"testing"
)

// TestApacheProxyHTTP runs examples/apache/gowsgi-http.conf in real
// Apache (mod_proxy_http) in front of gowsgi.
func TestApacheProxyHTTP(t *testing.T) {
	s := start(t, serverOpts{args: []string{"deploy:app"}})
	h := startApache(t, renderExample(t, "examples/apache/gowsgi-http.conf", map[string]string{
		"http://127.0.0.1:8000/": "http://" + s.addr + "/",
	}))
	t.Run("get", func(t *testing.T) {
		env := getEnviron(t, http.DefaultClient, h.url("/environ?q=a%20b"), http.Header{"X-Forwarded-For": {"203.0.113.7"}})
		checkEnviron(t, env, map[string]string{
			"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/environ", "QUERY_STRING": "q=a%20b",
			"HTTP_HOST":              "127.0.0.1:" + strconv.Itoa(h.port),
			"HTTP_X_FORWARDED_FOR":   "203.0.113.7, 127.0.0.1",
			"HTTP_X_FORWARDED_PROTO": "http", "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1",
		})
	})
	t.Run("upload 10 MiB", func(t *testing.T) { checkUpload(t, h.url("/upload"), 10<<20) })
	t.Run("streaming response", func(t *testing.T) { checkStreaming(t, h.url(streamPath)) })
}
