package httpparse_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gowsgi/gowsgi/httpparse"
)

// A connection's serve loop: read each request, consume its body, and stop
// at a clean close, a refusal or a request that ends the connection.
func ExampleReader() {
	conn := strings.NewReader("GET /hello?name=ada HTTP/1.1\r\nHost: example.com\r\n\r\n" +
		"POST /echo HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"3\r\nabc\r\n0\r\n\r\n" +
		"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
	r := httpparse.NewReader(bufio.NewReader(conn), httpparse.DefaultLimits)
	var req httpparse.Request
	for {
		err := r.ReadRequest(&req)
		var perr *httpparse.Error
		switch {
		case err == io.EOF:
			fmt.Println("client closed")
			return
		case errors.As(err, &perr):
			fmt.Printf("answer %d %s, then close\n", perr.Status, perr.Reason)
			return
		case err != nil:
			fmt.Println("close:", err)
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			fmt.Println("close:", err)
			return
		}
		fmt.Printf("%s %s query=%q body=%q keep-alive=%v\n", req.Method, req.Path, req.Query, body, req.KeepAlive)
		if !req.KeepAlive {
			return
		}
	}
	// Output:
	// GET /hello query="name=ada" body="" keep-alive=true
	// POST /echo query="" body="abc" keep-alive=true
	// answer 400 duplicate Host header, then close
}
