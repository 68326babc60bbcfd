package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// postBody posts body over one raw connection, with Content-Length or
// chunked in 64 KiB chunks (net/http's client would choose the framing
// itself), and returns the response.
func postBody(t *testing.T, addr, path, contentType string, body []byte, chunked bool) (int, []byte) {
	t.Helper()
	var raw strings.Builder
	fmt.Fprintf(&raw, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nConnection: close\r\n", path, contentType)
	if !chunked {
		fmt.Fprintf(&raw, "Content-Length: %d\r\n\r\n%s", len(body), body)
	} else {
		raw.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		for rest := body; len(rest) > 0; {
			n := min(len(rest), 64<<10)
			fmt.Fprintf(&raw, "%x\r\n%s\r\n", n, rest[:n])
			rest = rest[n:]
		}
		raw.WriteString("0\r\n\r\n")
	}
	resp, b := dialWire(t, "tcp", addr).roundTrip("POST", raw.String())
	return resp.StatusCode, []byte(b)
}

// TestChunkedUploadsToFrameworks: a chunked upload reaches real
// frameworks whole. The worker reads a chunked body whole before the app
// runs and gives it a CONTENT_LENGTH; Bottle, which decodes chunked
// bodies itself when HTTP_TRANSFER_ENCODING says chunked, answered 400
// while that header was passed on (as it does under Gunicorn; waitress
// drops it too).
func TestChunkedUploadsToFrameworks(t *testing.T) {
	upload := bytes.Repeat([]byte("chunk\x00\xff\r\n0\r\n"), 30000) // 360 kB: past Bottle's in-memory limit
	sum := sha256.Sum256(upload)

	t.Run("bottle", func(t *testing.T) {
		s := start(t, serverOpts{args: []string{"bottleapp:app"}, binary: debianBinary(t)})
		for _, chunked := range []bool{false, true} {
			code, b := postBody(t, s.addr, "/digest", "application/octet-stream", upload, chunked)
			var d struct {
				Size    int
				Sha256  string
				Chunked bool
			}
			if err := json.Unmarshal(b, &d); code != 200 || err != nil || d.Size != len(upload) ||
				d.Sha256 != hex.EncodeToString(sum[:]) || d.Chunked {
				t.Errorf("chunked %v: %d %.300q", chunked, code, b)
			}
		}
	})

	t.Run("flask", func(t *testing.T) {
		s := start(t, serverOpts{args: []string{"flaskapp"}})
		form, contentType := flaskUploadForm("chunked", upload)
		code, b := postBody(t, s.addr, "/upload", contentType, form, true)
		var u struct {
			Sha256, Note string
			Size         int
		}
		if err := json.Unmarshal(b, &u); code != 200 || err != nil || u.Size != len(upload) ||
			u.Sha256 != hex.EncodeToString(sum[:]) || u.Note != "chunked" {
			t.Errorf("multipart upload, chunked: %d %.300q", code, b)
		}
	})
}
