package engine

import (
	"slices"
	"strings"

	"github.com/gowsgi/gowsgi/config"
)

// defaultHeaders are --response-header's fields (Uvicorn's --header),
// added to a response that has no field of the same name: the app's own
// wins, where Uvicorn would send both. A Server one replaces gowsgi's.
type defaultHeaders struct {
	fields [][2][]byte // name, value. Immutable.
	lower  []string    // each name in lower case, for hasField. Immutable.
}

// newDefaultHeaders reads cfg.ResponseHeaders ("NAME: VALUE", as config
// normalised them), and the Server field a config file's gunicorn.SERVER
// gives when they have none; nil for none.
func newDefaultHeaders(cfg *config.Config) *defaultHeaders {
	headers := cfg.ResponseHeaders
	if cfg.ServerHeader != nil && !slices.ContainsFunc(headers, func(h string) bool {
		name, _, _ := strings.Cut(h, ":")
		return strings.EqualFold(name, "server")
	}) {
		headers = append(slices.Clip(headers), *cfg.ServerHeader)
	}
	if len(headers) == 0 {
		return nil
	}
	d := &defaultHeaders{}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		d.fields = append(d.fields, [2][]byte{[]byte(name), []byte(value)})
		d.lower = append(d.lower, strings.ToLower(name))
	}
	return d
}

// add appends to fields (the app's, already copied) each default field
// the app did not set.
func (d *defaultHeaders) add(fields [][2][]byte) [][2][]byte {
	if d == nil {
		return fields
	}
	n := len(fields)
	for i, f := range d.fields {
		if !hasField(fields[:n], d.lower[i]) {
			fields = append(fields, f)
		}
	}
	return fields
}
