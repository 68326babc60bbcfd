package engine

import (
	"fmt"
	"strconv"
)

// The request hooks (Gunicorn's pre_request and post_request) are run
// by Options.Hooks; here the engine describes the request and its
// response to them as Gunicorn's req and resp objects do.

// hookRequest is `req` of pre_request and post_request: the request as
// the client sent it (post_request gets pre_request's object itself,
// with its changes, from hooks.py). Its strings are latin-1, as
// Gunicorn's, so that every byte goes to the hook and back intact.
func (c *conn) hookRequest() map[string]any {
	r := &c.req
	headers := make([][2]string, 0, len(r.Headers))
	for _, f := range r.Headers {
		headers = append(headers, [2]string{upperASCII(f.Name), latin1String(f.Value)})
	}
	return map[string]any{
		"method": string(r.Method), "uri": latin1String(r.Target), "path": latin1String(r.Path),
		"query": latin1String(r.Query), "version": [2]int{r.Major, r.Minor}, "headers": headers,
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

// preRequestHook runs pre_request and gives the app what it changed of
// req; false when it raised or left req invalid: the caller then
// answers 500, as Gunicorn does when the hook raises.
func (c *conn) preRequestHook() bool {
	h := c.srv.hooks
	if h == nil || !c.srv.preHook {
		return true
	}
	ch, err := h.PreRequest(c.hookRequest(), c.hookKey())
	if err != nil {
		return false // logged with its traceback by the hooks
	}
	if ch == nil {
		return true
	}
	if err := c.applyRequestChange(ch); err != nil {
		c.srv.log.Error().Err(err).Str("hook", "pre_request").Str("request_id", c.requestID()).
			Msg("the pre_request hook's change to req cannot reach the app; answering 500")
		return false
	}
	return true
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
		"status":      strconv.Itoa(a.status) + " " + statusText(a.status),
		"status_code": a.status, "headers": headers, "sent": a.sent(),
	}
	h.PostRequest(c.hookRequest(), resp, c.hookKey(), &c.appReq)
}

// hookKey names the connection's request in flight between pre_request
// and post_request: a connection carries one request at a time.
func (c *conn) hookKey() string { return fmt.Sprintf("%p", c) }
