package config

import (
	"errors"
	"fmt"
	"strings"
)

// normalizeAdminBind accepts what bind accepts except fd://N, or "" for
// no admin listener. The port is required: the admin listener must not
// fall back to bind's default port 8000.
//
//	"" → "";  "127.0.0.1:9100" → "127.0.0.1:9100";  "unix:/run/a.sock" → "unix:/run/a.sock"
//	"fd://3" → error;  "localhost" → error
func normalizeAdminBind(v any) (any, error) {
	addr := v.(string)
	switch {
	case addr == "":
		return "", nil
	case strings.HasPrefix(addr, "fd://"):
		return nil, fmt.Errorf("admin bind %q: want HOST:PORT or unix:PATH", addr)
	case !strings.HasPrefix(addr, "unix:") && !strings.Contains(strings.TrimPrefix(addr, "tcp://"), ":"):
		return nil, fmt.Errorf("admin bind %q: want HOST:PORT or unix:PATH", addr)
	}
	norm, err := normalizeBind(addr)
	if err != nil {
		return nil, err
	}
	return norm, nil
}

// normalizeHeaderName accepts an HTTP field name: a token (RFC 9110
// §5.1) of at most 64 bytes without '_', which the environ could not
// tell from '-' (wsgi drops such headers).
//
//	"X-Request-ID" → "X-Request-ID";  "X_Request_ID" → error;  "" → error
func normalizeHeaderName(v any) (any, error) {
	name := v.(string)
	if name == "" || len(name) > 64 {
		return nil, errors.New("want a header name of 1 to 64 bytes")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^`|~", c) >= 0
		if !ok {
			return nil, fmt.Errorf("header name %q: byte %q is not allowed", name, c)
		}
	}
	return name, nil
}
