package config

import (
	"fmt"
	"strings"
)

// Uvicorn's --header NAME:VALUE: headers gowsgi adds to every response
// that does not carry one of that name (engine/defaultheaders.go).

var responseHeaderSettings = []*setting{
	{
		name: "response_headers", flags: []string{"response-header"}, kind: kindList, def: "",
		help:      "add `NAME:VALUE` to every response that has no NAME header (Uvicorn's --header); repeat for several",
		normalize: eachItem(normalizeResponseHeader),
		field:     func(c *Config) any { return &c.ResponseHeaders },
	},
}

// serverOwnedHeaders are the response fields gowsgi writes itself: the
// framing and connection fields (RFC 9112 §6, RFC 9110 §7.6.1) and Date
// (RFC 9110 §6.6.1).
var serverOwnedHeaders = []string{"connection", "content-length", "date", "keep-alive", "proxy-authenticate",
	"proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"}

// normalizeResponseHeader reads Uvicorn's "NAME:VALUE" (spaces around
// the value are dropped) into "NAME: VALUE"; a field gowsgi writes
// itself is refused (Server may be replaced).
//
//	"X-Frame-Options:DENY" → "X-Frame-Options: DENY";  "server: edge" → "server: edge"
//	"Content-Length: 3" → error;  "X-A" → error;  "X A:b" → error
func normalizeResponseHeader(item string) (string, error) {
	name, value, ok := strings.Cut(item, ":")
	if !ok {
		return "", fmt.Errorf("response header %q: want NAME:VALUE", item)
	}
	if _, err := normalizeHeaderName(name); err != nil {
		return "", fmt.Errorf("response header %q: %w", item, err)
	}
	value = strings.Trim(value, " \t")
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return "", fmt.Errorf("response header %q: control byte %q in the value", item, c)
		}
	}
	for _, owned := range serverOwnedHeaders {
		if strings.EqualFold(name, owned) {
			return "", fmt.Errorf("response header %q: gowsgi writes %s itself", item, name)
		}
	}
	return name + ": " + value, nil
}
