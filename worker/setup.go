package worker

import (
	"fmt"
	"net"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/engine"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/proctitle"
	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/gowsgi/gowsgi/wsgi"
	"github.com/rs/zerolog"
)

// prepareProcess readies a worker between inheriting the listeners and
// starting Python, in this order: the process title; --capture-output;
// the access log; then, still as the master's user, giving the unix
// sockets their owner and mode, handing the log files to --user so it
// can reopen them, and dropping privileges, so that no app code ever
// runs as root.
func prepareProcess(cfg *config.Config, elog *errorlog.Log, log zerolog.Logger, lns []net.Listener) (*engine.Extras, error) {
	if err := proctitle.Set(proctitle.Title("worker", cfg.ProcName, cfg.App)); err != nil {
		log.Debug().Err(err).Msg("cannot set the process title")
	}
	if !cfg.NoSchedBatch {
		if err := useBatchScheduling(); err != nil {
			log.Warn().Err(err).Msg("cannot move the worker to SCHED_BATCH; it runs under the normal policy")
		}
	}
	x := new(engine.Extras)
	var err error
	if x.Forwarded, err = wsgi.ParseTrustedPeers(cfg.ForwardedAllowIPs); err != nil {
		return nil, err
	}
	if cfg.ProxyProtocol {
		from, err := wsgi.ParseTrustedPeers(cfg.ProxyAllowFrom)
		if err != nil {
			return nil, err
		}
		x.ProxyFrom = &from
	}
	if cfg.CaptureOutput {
		if err := captureOutput(elog, log); err != nil {
			return nil, fmt.Errorf("--capture-output: %w", err)
		}
	}
	if x.Access, err = engine.OpenAccessLog(cfg); err != nil {
		return nil, err
	}
	x.Access.WarnOnFailure(log)
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
func (p *process) reopenLogs() {
	if err := p.elog.Reopen(); err != nil {
		p.log.Error().Err(err).Msg("cannot reopen the error log")
	}
	if err := p.srv.ReopenAccessLog(); err != nil {
		p.log.Error().Err(err).Msg("cannot reopen the access log")
	}
	if err := pyshim.ReopenLogFiles(); err != nil { // Python's logging's (logconfig)
		p.log.Error().Msg("cannot reopen Python's log files:\n" + tracebackOf(err))
	}
	p.log.Info().Msg("reopened the log files")
}
