package engine

import (
	"fmt"
	"net/http"
	"strconv"
)

// The request hooks (Gunicorn's pre_request and post_request) are run
// by Options.Hooks; here the engine describes the request and its
// response to them as Gunicorn's req and resp objects do.

// hookRequest is `req` of pre_request and post_request.
func (c *conn) hookRequest() map[string]any {
	r := &c.req
	headers := make([][2]string, 0, len(r.Headers))
	for _, f := range r.Headers {
		headers = append(headers, [2]string{upperASCII(f.Name), string(f.Value)})
	}
	return map[string]any{
		"method": string(r.Method), "uri": string(r.Target), "path": string(r.Path),
		"query": string(r.Query), "version": [2]int{r.Major, r.Minor}, "headers": headers,
		"scheme": c.info.Scheme, "remote_addr": c.info.RemoteAddr,
	}
}

// upperASCII is Gunicorn's req.headers name: upper case.
func upperASCII(b []byte) string {
	out := []byte(string(b))
	for i, ch := range out {
		if 'a' <= ch && ch <= 'z' {
			out[i] = ch - 'a' + 'A'
		}
	}
	return string(out)
}

// preRequestHook runs pre_request; false when it raised: the caller
// then answers 500, as Gunicorn does.
func (c *conn) preRequestHook() bool {
	h := c.srv.hooks
	if h == nil || !c.srv.preHook {
		return true
	}
	return h.PreRequest(c.hookRequest(), c.hookKey()) == nil
}

// postRequestHook runs post_request once the response is sent.
func (c *conn) postRequestHook() {
	h := c.srv.hooks
	if h == nil || !c.srv.postHook {
		return
	}
	a := &c.acc
	headers := make([][2]string, 0, len(a.respHeaders)/2)
	for i := 0; i+1 < len(a.respHeaders); i += 2 {
		headers = append(headers, [2]string{string(a.respHeaders[i]), string(a.respHeaders[i+1])})
	}
	resp := map[string]any{
		"status":      strconv.Itoa(a.status) + " " + http.StatusText(a.status),
		"status_code": a.status, "headers": headers, "sent": a.sent(),
	}
	h.PostRequest(c.hookRequest(), resp, c.hookKey(), &c.appReq)
}

// hookKey names the connection's request in flight between pre_request
// and post_request: a connection carries one request at a time.
func (c *conn) hookKey() string { return fmt.Sprintf("%p", c) }
