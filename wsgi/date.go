package wsgi

import (
	"net/http"
	"sync/atomic"
	"time"
)

// DateCache formats the Date header (RFC 9110 §6.6.1) once per second
// instead of once per response. Safe for concurrent use.
type DateCache struct {
	cur atomic.Pointer[dateValue]
}

type dateValue struct {
	sec  int64
	text []byte
}

// Get returns the IMF-fixdate of now; callers must not modify it.
func (d *DateCache) Get(now time.Time) []byte {
	sec := now.Unix()
	if v := d.cur.Load(); v != nil && v.sec == sec {
		return v.text
	}
	v := &dateValue{sec: sec, text: []byte(now.UTC().Format(http.TimeFormat))}
	d.cur.Store(v)
	return v.text
}
