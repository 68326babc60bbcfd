package config

import (
	"fmt"
	"strings"
)

// Values of Config.Protocol (--protocol), as in Gunicorn.
const (
	// ProtocolHTTP is HTTP/1.1 from clients or any reverse proxy.
	ProtocolHTTP = "http"
	// ProtocolUwsgi is the uwsgi binary protocol from a front end in
	// --uwsgi-allow-from: one request packet per connection.
	ProtocolUwsgi = "uwsgi"
)

// normalizeProtocol accepts http or uwsgi in any case.
//
//	"uwsgi" → "uwsgi";  "HTTP" → "http";  "fastcgi" → error
func normalizeProtocol(v any) (any, error) {
	p := strings.ToLower(strings.TrimSpace(v.(string)))
	switch p {
	case ProtocolHTTP, ProtocolUwsgi:
		return p, nil
	}
	return nil, fmt.Errorf("unknown protocol %q: gowsgi speaks http and uwsgi", v)
}
