package engine

import (
	"bytes"

	"github.com/gowsgi/gowsgi/httpparse"
	"github.com/gowsgi/gowsgi/wsgi"
)

// errUnderscoreHeader is the answer of --header-map refuse to a request
// with a header whose name has an underscore, as Gunicorn's parser
// answers it (InvalidHeaderName, a 400).
var errUnderscoreHeader = &httpparse.Error{Status: 400, Reason: "header name with an underscore"}

// refusedHeaderName reports whether --header-map refuse turns the
// request away: a header name with an underscore would reach the app
// under its dashed twin's environ key (X_Forwarded_For and
// X-Forwarded-For), except a trusted proxy's SCRIPT_NAME and PATH_INFO,
// which Gunicorn's forwarder_headers let through.
func (c *conn) refusedHeaderName() bool {
	if !c.srv.refuseUnderscores {
		return false
	}
	for _, h := range c.req.Headers {
		if bytes.IndexByte(h.Name, '_') >= 0 && !(wsgi.ForwarderHeader(h.Name) && c.forwardedTrusted()) {
			return true
		}
	}
	return false
}
