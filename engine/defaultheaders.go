package engine

import (
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
// normalised them); nil for none.
func newDefaultHeaders(cfg *config.Config) *defaultHeaders {
	if len(cfg.ResponseHeaders) == 0 {
		return nil
	}
	d := &defaultHeaders{}
	for _, h := range cfg.ResponseHeaders {
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
