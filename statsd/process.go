package statsd

import "github.com/rs/zerolog"

// The life of the Client of one process, the master or a worker, which
// both run it the same way: opened for --statsd-host before the first
// logger, so that the process's error log counts its lines; the first
// lost datagram logged; at exit, how many were lost.

// Hooked is an error log that runs a hook on each of its lines:
// errorlog.Log, named by what statsd needs of it, so
// neither package imports the other.
type Hooked interface{ SetHook(zerolog.Hook) }

// Open starts a process's Client for host (--statsd-host; nil when
// host is "") and makes elog count its warning, error and critical
// lines (gunicorn.log.*). Call it before elog makes its first logger.
func Open(host, prefix, tags string, elog Hooked) (*Client, error) {
	if host == "" {
		return nil, nil
	}
	c, err := New(host, prefix, tags)
	if err != nil {
		return nil, err
	}
	elog.SetHook(NewLogHook(c))
	return c, nil
}

// LogLosses logs the first datagram c loses on log; later losses are
// only counted (Dropped). Nothing for a nil c.
func (c *Client) LogLosses(log zerolog.Logger) {
	c.OnFailure(func(err error) {
		log.Warn().Err(err).Msg("statsd: a datagram of metrics was lost; later losses are only counted")
	})
}

// CloseLogged closes c and logs how many datagrams were lost, if any.
// Nothing for a nil c.
func (c *Client) CloseLogged(log zerolog.Logger) {
	if c == nil {
		return
	}
	c.Close()
	if n := c.Dropped(); n > 0 {
		log.Info().Uint64("dropped", n).Uint64("sent", c.Sent()).Msg("statsd: datagrams of metrics lost")
	}
}
