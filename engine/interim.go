package engine

import "github.com/gowsgi/gowsgi/wsgi"

// sendInterim sends an informational head the app passed to write while
// it runs (wsgi.early_hints, an ASGI http.response.informational), and
// reports whether the client still takes what the app sends. It is
// dropped, as RFC 8297 lets a server do with hints, for a client that
// cannot take a 1xx (HTTP/1.0: RFC 9110 §15.2; a uwsgi peer, which
// frames one response per request), once the response's head is out,
// and when it is invalid, which is logged: the app goes on either way.
func (st *streamer) sendInterim(step *Step) bool {
	c := st.c
	if st.headSent || c.req.Minor == 0 || c.appReq.Uwsgi != nil {
		return true
	}
	head, err := wsgi.AppendInterim(nil, step.Status, step.Headers) // rare: not pooled
	if err != nil {
		c.srv.log.Warn().Err(err).Str("path", string(c.req.Path)).Str("request_id", c.requestID()).
			Msg("invalid informational response from the application; not sent")
		return true
	}
	bufs := append(c.step[:0], head)
	err = st.send(bufs, false)
	clear(bufs)
	return err == nil
}
