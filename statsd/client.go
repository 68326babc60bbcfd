// Package statsd sends Gunicorn's StatsD metrics
// (gunicorn/instrument/statsd.py) from the master and the workers:
// the same names, types and line format, so that dashboards and alerts
// built on Gunicorn keep working.
//
// Unlike Gunicorn, which sends one datagram per metric from the request
// path, a Client gathers whole lines into one datagram (lines separated
// by '\n', which StatsD, DogStatsD, Telegraf and statsd_exporter all
// read) and sends it when it is full or flushDelay after its first line;
// and it sums each counter over that window, sending
// "gunicorn.requests:37|c|@1.0" once rather than 37 lines of 1, which a
// StatsD server adds up the same. Timers and gauges are sent as they
// come. Sending never waits: the socket is non-blocking and a datagram
// the kernel does not take at once is dropped and counted. Resolving a
// host name happens at New and on the flush timer, never on a caller's
// path.
//
// The package is pure Go: the master, which must build without cgo,
// uses it as well as the workers.
package statsd

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Packet sizes: what fits an Ethernet frame through IPv4 and IPv6
// without fragments (StatsD's own advice for "fast Ethernet"), and
// DogStatsD's default buffer for a unix socket, which has no MTU.
const (
	udpPacket  = 1432
	unixPacket = 8192
)

const (
	// flushDelay bounds how long a line waits for its datagram to fill.
	// StatsD servers aggregate over seconds (10 s by default), so the
	// delay shows nowhere but saves a system call per request.
	flushDelay = 100 * time.Millisecond
	// redialEvery spaces the attempts to reach a destination that was
	// not there (DNS not answering, no socket file yet).
	redialEvery = 5 * time.Second
	// resolveTimeout bounds a DNS lookup, at New and on the flush timer.
	resolveTimeout = 2 * time.Second
)

// Client sends metrics to one StatsD server. Its methods are safe for
// concurrent use; a nil *Client sends nothing.
type Client struct {
	addr   Addr   // immutable
	prefix string // Prefix(--statsd-prefix); immutable
	tags   string // "|#" + --dogstatsd-tags, or ""; immutable
	max    int    // bytes in one datagram; immutable
	timer  *time.Timer

	mu  sync.Mutex
	buf []byte // guarded by mu: whole lines not sent yet, '\n'-separated
	fd  int    // guarded by mu: the connected socket; -1 when none
	// dialErr is why fd is -1; guarded by mu.
	dialErr error
	armed   bool // guarded by mu: the timer will flush
	closed  bool // guarded by mu

	// Counters summed since the last flush; guarded by mu.
	counters []counter   // by name, in the order first counted; the package's few names
	statuses [900]uint32 // gunicorn.request.status.NNN by NNN-100
	counted  bool        // some counter or status is above 0

	dialMu   sync.Mutex // held while dialing, by New or the timer
	nextDial time.Time  // guarded by dialMu

	sent      atomic.Uint64 // datagrams the kernel took
	dropped   atomic.Uint64 // datagrams lost: no socket, or the kernel refused them
	failed    atomic.Bool   // onFailure ran
	onFailure atomic.Pointer[func(error)]
}

// New returns a Client for addr (ParseAddr's syntax), prefix
// (--statsd-prefix, applied with Prefix) and tags (--dogstatsd-tags).
// It fails only on a bad setting: a destination it cannot reach yet is
// dialled again later, while lines meant for it are dropped and counted.
func New(addr, prefix, tags string) (*Client, error) {
	a, err := ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	if err := CheckPrefix(prefix); err != nil {
		return nil, err
	}
	if err := CheckTags(tags); err != nil {
		return nil, err
	}
	c := &Client{addr: a, prefix: Prefix(prefix), max: udpPacket, fd: -1}
	if a.Path != "" {
		c.max = unixPacket
	}
	if tags != "" {
		c.tags = "|#" + tags
	}
	c.buf = make([]byte, 0, c.max)
	c.timer = time.AfterFunc(time.Hour, c.flushTimer)
	c.timer.Stop()
	c.dialMu.Lock()
	c.dialLocked()
	c.dialMu.Unlock()
	return c, nil
}

// OnFailure sets f to be called once, with the error, the first time a
// datagram is lost; later losses are only counted (Dropped). f runs on
// the goroutine that lost it, with no lock held, so it may log (and the
// log line may be counted by this Client).
func (c *Client) OnFailure(f func(error)) {
	if c != nil {
		c.onFailure.Store(&f)
	}
}

// Sent and Dropped count the datagrams sent and lost so far.
func (c *Client) Sent() uint64 {
	if c == nil {
		return 0
	}
	return c.sent.Load()
}

func (c *Client) Dropped() uint64 {
	if c == nil {
		return 0
	}
	return c.dropped.Load()
}

// Close sends what is buffered and closes the socket; later metrics are
// dropped silently. It is idempotent.
func (c *Client) Close() error {
	if c == nil {
		return nil
	}
	c.timer.Stop()
	c.mu.Lock()
	var err error
	if !c.closed {
		err = c.flushLocked()
	}
	c.closed = true
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
	c.mu.Unlock()
	c.reportFailure(err)
	return nil
}

type counter struct {
	name string
	n    uint64
}

// incrLocked adds one to the counter name; the caller holds c.mu.
func (c *Client) incrLocked(name string) {
	c.counted = true
	for i := range c.counters {
		if c.counters[i].name == name {
			c.counters[i].n++
			return
		}
	}
	c.counters = append(c.counters, counter{name: name, n: 1})
}

// lineLocked appends a line, which write formats in at most size bytes,
// to the datagram, sending the datagram first when the line would not
// fit. The caller holds c.mu; its goroutine makes at most one
// non-blocking send. The error is that of a lost datagram.
func (c *Client) lineLocked(size int, write func([]byte) []byte) error {
	var err error
	if len(c.buf) > 0 && len(c.buf)+1+size > c.max {
		err = c.sendLocked()
	}
	if len(c.buf) > 0 {
		c.buf = append(c.buf, '\n')
	}
	c.buf = write(c.buf)
	return err
}

// armLocked makes the timer flush what was just added; the caller
// holds c.mu.
func (c *Client) armLocked() {
	if !c.armed {
		c.armed = true
		c.timer.Reset(flushDelay)
	}
}

// flushLocked writes the summed counters and sends the datagram; the
// caller holds c.mu. The error is that of the first datagram lost.
func (c *Client) flushLocked() error {
	var err error
	keep := func(e error) {
		if err == nil {
			err = e
		}
	}
	if c.counted {
		for i := range c.counters {
			if n := c.counters[i].n; n > 0 {
				keep(c.lineLocked(c.counterSize(c.counters[i].name), func(b []byte) []byte {
					return c.appendCounter(b, c.counters[i].name, 0, n)
				}))
				c.counters[i].n = 0
			}
		}
		for i, n := range c.statuses {
			if n > 0 {
				keep(c.lineLocked(c.counterSize(statusPrefix)+3, func(b []byte) []byte {
					return c.appendCounter(b, statusPrefix, 100+i, uint64(n))
				}))
				c.statuses[i] = 0
			}
		}
		c.counted = false
	}
	if len(c.buf) > 0 {
		keep(c.sendLocked())
	}
	return err
}

// sendLocked sends buf as one datagram without waiting and empties it;
// the caller holds c.mu. The error is that of a lost datagram.
func (c *Client) sendLocked() error {
	defer func() { c.buf = c.buf[:0] }()
	if c.fd < 0 {
		c.dropped.Add(1)
		if c.dialErr != nil {
			return c.dialErr
		}
		return errNotConnected
	}
	for {
		_, err := unix.SendmsgN(c.fd, c.buf, nil, nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
		switch {
		case err == nil:
			c.sent.Add(1)
			return nil
		case err == unix.EINTR:
			continue
		case c.addr.Path != "" && (err == unix.ECONNREFUSED || err == unix.ENOTCONN):
			// The server went away with its socket file: dial it anew.
			unix.Close(c.fd)
			c.fd = -1
		}
		c.dropped.Add(1)
		return err
	}
}

func (c *Client) reportFailure(err error) {
	if err == nil || !c.failed.CompareAndSwap(false, true) {
		return
	}
	if f := c.onFailure.Load(); f != nil {
		(*f)(err)
	}
}

// flushTimer runs on the timer's goroutine flushDelay after the first
// metric since the last flush: it (re)dials when there is no socket,
// then flushes.
func (c *Client) flushTimer() {
	c.mu.Lock()
	noSocket := c.fd < 0 && !c.closed
	c.mu.Unlock()
	if noSocket {
		c.dialMu.Lock()
		if time.Now().After(c.nextDial) {
			c.dialLocked()
		}
		c.dialMu.Unlock()
	}
	c.mu.Lock()
	var err error
	if !c.closed {
		err = c.flushLocked()
	}
	c.armed = false
	c.mu.Unlock()
	c.reportFailure(err)
}

// dialLocked connects a socket to the destination and installs it; the
// caller holds dialMu, not mu (a DNS lookup may take resolveTimeout).
func (c *Client) dialLocked() {
	c.nextDial = time.Now().Add(redialEvery)
	fd, err := dial(c.addr)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err != nil:
		c.dialErr = err // reported with the first datagram it costs
	case c.fd >= 0 || c.closed:
		unix.Close(fd)
	default:
		c.fd, c.dialErr = fd, nil
	}
}

// dial returns a connected, non-blocking datagram socket to a, the
// host's first IPv4 address preferred (Gunicorn only speaks IPv4).
func dial(a Addr) (int, error) {
	var sa unix.Sockaddr
	family := unix.AF_UNIX
	if a.Path != "" {
		sa = &unix.SockaddrUnix{Name: a.Path}
	} else {
		ip, err := resolve(a.Host)
		if err != nil {
			return -1, fmt.Errorf("statsd: %w", err)
		}
		if ip.Is4() {
			family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: a.Port, Addr: ip.As4()}
		} else {
			family, sa = unix.AF_INET6, &unix.SockaddrInet6{Port: a.Port, Addr: ip.As16()}
		}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("statsd: connect to %s: %w", a, err)
	}
	return fd, nil
}

func resolve(host string) (netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(ips) == 0 {
		return netip.Addr{}, &net.DNSError{Err: "no address", Name: host}
	}
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			return ip.Unmap(), nil
		}
	}
	return ips[0], nil
}
