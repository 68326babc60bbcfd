package worker

import (
	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/statsd"
	"github.com/rs/zerolog"
)

// openStatsd starts the worker's StatsD client for --statsd-host, nil
// when it is off, and makes the worker's error log count its warning,
// error and critical lines (gunicorn.log.*). Main calls it before
// making its first logger. The worker sends what it alone knows: each
// response (the engine calls statsd.Client.Request) and its own log lines; the master
// sends the workers gauge and counts its own lines.
func openStatsd(cfg *config.Config, elog *errorlog.Log) (*statsd.Client, error) {
	return statsd.Open(cfg.StatsdHost, cfg.StatsdPrefix, cfg.DogstatsdTags, elog)
}

// watchStatsd logs the first datagram lost; closeStatsd, at exit, how
// many were.
func watchStatsd(c *statsd.Client, log zerolog.Logger) { c.LogLosses(log) }
func closeStatsd(c *statsd.Client, log zerolog.Logger) { c.CloseLogged(log) }
