package worker

import (
	"fmt"
	"net"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/proctitle"
	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/gowsgi/gowsgi/statsd"
	"github.com/gowsgi/gowsgi/wsgi"
	"github.com/rs/zerolog"
)

// extras is what Main sets up around the server before Python starts:
// the logs a USR1 reopens and the peers trusted with proxy information.
// Set on the server before run and immutable after; a server without
// extras (a unit test's) logs no access lines and trusts no proxy.
type extras struct {
	elog   *errorlog.Log
	access *accessLog // nil without --access-logfile
	// forwarded: peers whose X-Forwarded-Proto & co. set wsgi.url_scheme.
	forwarded wsgi.TrustedPeers
	// proxyFrom: peers that must start with a PROXY protocol header;
	// nil without --proxy-protocol.
	proxyFrom *wsgi.TrustedPeers
	statsd    *statsd.Client // nil without --statsd-host (statsd.go)
}

// prepareProcess readies a worker between inheriting the listeners and
// starting Python, in this order: the process title; --capture-output;
// the access log; then, still as the master's user, giving the unix
// sockets their owner and mode, handing the log files to --user so it
// can reopen them, and dropping privileges, so that no app code ever
// runs as root.
func prepareProcess(cfg *config.Config, elog *errorlog.Log, log zerolog.Logger, lns []net.Listener) (*extras, error) {
	if err := proctitle.Set(proctitle.Title("worker", cfg.ProcName, cfg.App)); err != nil {
		log.Debug().Err(err).Msg("cannot set the process title")
	}
	if !cfg.NoSchedBatch {
		if err := useBatchScheduling(); err != nil { // sched.go
			log.Warn().Err(err).Msg("cannot move the worker to SCHED_BATCH; it runs under the normal policy")
		}
	}
	x := &extras{elog: elog}
	var err error
	if x.forwarded, err = wsgi.ParseTrustedPeers(cfg.ForwardedAllowIPs); err != nil {
		return nil, err
	}
	if cfg.ProxyProtocol {
		from, err := wsgi.ParseTrustedPeers(cfg.ProxyAllowFrom)
		if err != nil {
			return nil, err
		}
		x.proxyFrom = &from
	}
	if cfg.CaptureOutput {
		if err := captureOutput(elog, log); err != nil {
			return nil, fmt.Errorf("--capture-output: %w", err)
		}
	}
	if x.access, err = openAccessLog(cfg); err != nil {
		return nil, err
	}
	if !pyshim.Preloaded() { // else the zygote did it, while it was root
		if err := ownUnixSockets(cfg, lns); err != nil {
			return nil, err
		}
	}
	if err := dropPrivileges(cfg, log); err != nil {
		return nil, err
	}
	return x, nil
}

// reopenLogs reopens the error and access log files by name, after
// logrotate moved them (USR1). Lines already being written finish in the
// old files.
func (s *server) reopenLogs() {
	if s.extras == nil {
		return
	}
	if err := s.extras.elog.Reopen(); err != nil {
		s.log.Error().Err(err).Msg("cannot reopen the error log")
	}
	if a := s.extras.access; a != nil {
		if err := a.w.Reopen(); err != nil {
			s.log.Error().Err(err).Msg("cannot reopen the access log")
		}
	}
	s.log.Info().Msg("reopened the log files")
}
