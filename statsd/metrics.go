package statsd

import (
	"strconv"
	"time"
)

// Gunicorn's metric names (gunicorn/instrument/statsd.py and
// gunicorn/arbiter.py), before the prefix.
const (
	Requests        = "gunicorn.requests"         // counter: one per response
	RequestDuration = "gunicorn.request.duration" // timer, ms: the request's time from its environ to its last byte
	statusPrefix    = "gunicorn.request.status."  // counter: gunicorn.request.status.200
	Workers         = "gunicorn.workers"          // gauge: worker processes, sent when it changes
	Backlog         = "gunicorn.backlog"          // "histogram" (|ms): connections in the listen queues, every second

	LogCritical  = "gunicorn.log.critical"  // counter: a critical line of the error log
	LogError     = "gunicorn.log.error"     // counter: an error line without a Python traceback
	LogWarning   = "gunicorn.log.warning"   // counter: a warning line
	LogException = "gunicorn.log.exception" // counter: an error line with a Python traceback
)

// Lines as Gunicorn writes them, with its sampling rate "@1.0" on
// counters (gunicorn/instrument/statsd.py):
//
//	counter: PREFIXgunicorn.requests:1|c|@1.0|#TAGS   (here :N, summed over a flush)
//	timer:   PREFIXgunicorn.request.duration:12.5|ms|#TAGS
//	gauge:   PREFIXgunicorn.workers:4|g|#TAGS
//
// "|#TAGS" only with --dogstatsd-tags.

// Request counts one response: its duration (a timer line), the request
// count and the count of its status. A status of 0 (the request got no
// response) counts no status.
func (c *Client) Request(status int, took time.Duration) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	err := c.lineLocked(len(c.prefix)+len(RequestDuration)+len(c.tags)+32, func(b []byte) []byte {
		b = append(b, c.prefix...)
		b = append(b, RequestDuration...)
		b = append(b, ':')
		b = appendMillis(b, took)
		b = append(b, "|ms"...)
		return append(b, c.tags...)
	})
	c.incrLocked(Requests)
	if status >= 100 && status <= 999 {
		c.statuses[status-100]++
	}
	c.armLocked()
	c.mu.Unlock()
	c.reportFailure(err)
}

// Incr adds one to the counter name.
func (c *Client) Incr(name string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if !c.closed {
		c.incrLocked(name)
		c.armLocked()
	}
	c.mu.Unlock()
}

// Histogram sends v as Gunicorn's Statsd.histogram does: a timer line
// ("|ms"), which StatsD servers keep as a distribution.
func (c *Client) Histogram(name string, v int) {
	c.valueLine(name, v, "|ms")
}

// Gauge sets the gauge name to v.
func (c *Client) Gauge(name string, v int) {
	c.valueLine(name, v, "|g")
}

func (c *Client) valueLine(name string, v int, typ string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	err := c.lineLocked(len(c.prefix)+len(name)+len(c.tags)+24, func(b []byte) []byte {
		b = append(b, c.prefix...)
		b = append(b, name...)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(v), 10)
		b = append(b, typ...)
		return append(b, c.tags...)
	})
	c.armLocked()
	c.mu.Unlock()
	c.reportFailure(err)
}

// counterSize bounds the length of a counter line of name.
func (c *Client) counterSize(name string) int {
	return len(c.prefix) + len(name) + len(c.tags) + 32
}

// appendCounter appends a counter line adding n to name, or to name
// followed by suffix when suffix is not 0.
func (c *Client) appendCounter(b []byte, name string, suffix int, n uint64) []byte {
	b = append(b, c.prefix...)
	b = append(b, name...)
	if suffix != 0 {
		b = strconv.AppendInt(b, int64(suffix), 10)
	}
	b = append(b, ':')
	b = strconv.AppendUint(b, n, 10)
	b = append(b, "|c|@1.0"...)
	return append(b, c.tags...)
}

// appendMillis writes d in milliseconds with microsecond precision, as
// Python prints Gunicorn's float: 1.5 ms → "1.5", 2 ms → "2.0",
// 1234567 µs → "1234.567".
func appendMillis(b []byte, d time.Duration) []byte {
	us := max(d.Microseconds(), 0)
	b = strconv.AppendInt(b, us/1000, 10)
	b = append(b, '.')
	frac := us % 1000
	switch {
	case frac == 0:
		return append(b, '0')
	case frac < 10:
		b = append(b, '0', '0')
	case frac < 100:
		b = append(b, '0')
	}
	for frac%10 == 0 {
		frac /= 10
	}
	return strconv.AppendInt(b, frac, 10)
}
