package master

import (
	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/statsd"
	"github.com/rs/zerolog"
)

// The master's part of --statsd-host: the gunicorn.workers gauge and
// the count of its own warning, error and critical lines
// (gunicorn.log.*); the workers send the per-request metrics. The
// client lives as long as the master and keeps the settings it started
// with: a HUP that changes them reaches the new workers only.

// openStatsd starts the master's StatsD client, nil when --statsd-host
// is off, and makes every logger of elog count its lines. Run calls it
// before making its first logger.
func openStatsd(cfg *config.Config, elog *config.ErrorLog) (*statsd.Client, error) {
	if cfg.StatsdHost == "" {
		return nil, nil
	}
	c, err := statsd.New(cfg.StatsdHost, cfg.StatsdPrefix, cfg.DogstatsdTags)
	if err != nil {
		return nil, err
	}
	elog.SetHook(statsd.NewLogHook(c))
	return c, nil
}

func watchStatsd(c *statsd.Client, log zerolog.Logger) {
	c.OnFailure(func(err error) {
		log.Warn().Err(err).Msg("statsd: a datagram of metrics was lost; later losses are only counted")
	})
}

func closeStatsd(c *statsd.Client, log zerolog.Logger) {
	if c == nil {
		return
	}
	c.Close()
	if n := c.Dropped(); n > 0 {
		log.Info().Uint64("dropped", n).Uint64("sent", c.Sent()).Msg("statsd: datagrams of metrics lost")
	}
}

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
