package master

import (
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/statsd"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// The master's part of --statsd-host: the gunicorn.workers gauge, the
// count of its own warning, error and critical lines (gunicorn.log.*),
// and gunicorn.backlog with --enable-backlog-metric; the workers send
// the per-request metrics. The
// client lives as long as the master and keeps the settings it started
// with: a HUP that changes them reaches the new workers only.

// openStatsd starts the master's StatsD client, nil when --statsd-host
// is off, and makes every logger of elog count its lines. Run calls it
// before making its first logger.
func openStatsd(cfg *config.Config, elog *errorlog.Log) (*statsd.Client, error) {
	return statsd.Open(cfg.StatsdHost, cfg.StatsdPrefix, cfg.DogstatsdTags, elog)
}

// watchStatsd logs the first datagram lost; closeStatsd, at exit, how
// many were.
func watchStatsd(c *statsd.Client, log zerolog.Logger) { c.LogLosses(log) }
func closeStatsd(c *statsd.Client, log zerolog.Logger) { c.CloseLogged(log) }

// gaugeWorkers sends gunicorn.workers when the number of workers
// changed since it was last sent, as Gunicorn's arbiter does after
// managing its workers. The number counts the workers booting, serving
// or serving until their replacement is ready; not those told to stop.
// It runs on the arbiter goroutine after every event.
func (a *arbiter) gaugeWorkers() {
	if a.statsd == nil {
		return
	}
	n := a.countAll(func(w *workerProc) bool { return w.state != stopping && w.state != aborting })
	if n != a.statsdWorkers {
		a.statsdWorkers = n
		a.statsd.Gauge(statsd.Workers, n)
	}
}

// backlogEvery is how often gunicorn.backlog is sent with
// --enable-backlog-metric: Gunicorn's arbiter sends it each time round
// its loop, which waits up to a second.
const backlogEvery = time.Second

// startBacklog sends gunicorn.backlog every backlogEvery, on its own
// goroutine, until the returned stop function is called; stop waits for
// the goroutine, so the listeners may be closed after it. Nothing is
// sent when no listener is TCP.
func startBacklog(c *statsd.Client, sets *listenerSets) (stop func()) {
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(backlogEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if n, ok := backlog(sets); ok {
					c.Histogram(statsd.Backlog, n)
				}
			}
		}
	}()
	return func() { close(done); <-exited }
}

// backlog sums the connections waiting to be accepted on the TCP
// listeners: for a listening socket, Linux's TCP_INFO reports the accept
// queue's length as tcpi_unacked (tcp_get_info), which is what
// Gunicorn's TCPSocket.get_backlog reads. ok is false when no listener
// answers TCP_INFO (unix sockets do not).
func backlog(sets *listenerSets) (n int, ok bool) {
	sets.each(func(l *listener) {
		if info, err := unix.GetsockoptTCPInfo(int(l.file.Fd()), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			n, ok = n+int(info.Unacked), true
		}
	})
	return n, ok
}
