package master

import (
	"errors"
	"slices"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/errorlog"
)

// Reloading (HUP, --reload) boots a complete new generation of workers
// while the old one serves, and stops the old workers only once every
// new one is ready. If a new worker dies before it is ready (an app that
// no longer imports), the new generation is dropped and the old one
// keeps serving: a bad deploy never takes the server down.

func (a *arbiter) startReload(req reloadReq) {
	if a.stop != running {
		return
	}
	if a.next != nil {
		if a.again == nil || req.reread {
			a.again = &req
		}
		a.log.Info().Str("reason", req.reason).Msg("a reload is under way; another one follows it")
		return
	}
	cfg, want := a.cur.cfg, a.cur.want
	if req.reread {
		nc, err := a.env.loadConfig()
		if err != nil {
			a.log.Error().Err(err).Msg("reload: the configuration has an error; keeping the current one and its workers")
			return
		}
		for _, n := range nc.Notices {
			if slices.Contains(a.cur.cfg.Notices, n) { // said at start, or at the last reload
				continue
			}
			if nc.Remark(n) {
				a.log.Info().Msg(n)
			} else {
				a.log.Warn().Msg(n)
			}
		}
		a.noteMasterKeeps(nc)
		if err := a.changeListeners(a.lastGen+1, nc); err != nil {
			a.log.Error().Err(err).Msg("reload: cannot listen on the new addresses; keeping the current configuration and its workers")
			return
		}
		if err := a.reloadHooks(nc); err != nil {
			a.env.settleListeners(a.cur.n)
			a.log.Error().Err(err).Msg("reload: the server hooks cannot be loaded; keeping the current configuration")
			return
		}
		cfg, want = nc, nc.Workers
	}
	a.lastGen++
	a.next = &generation{n: a.lastGen, cfg: cfg, want: want}
	if req.reread {
		// Gunicorn's reload: the new settings (nworkers_changed, at
		// every HUP, as its arbiter sets num_workers again), then
		// on_reload, then the new workers; server.num_workers is the
		// new count in both (serverState).
		n, old := want, a.cur.want
		if !a.hook(hookCall{Hook: "nworkers_changed", New: &n, Old: &old}) {
			return
		}
		if !a.hook(hookCall{Hook: "on_reload"}) {
			return
		}
	}
	a.env.notify("RELOADING=1")
	a.log.Info().Str("reason", req.reason).Int("generation", a.next.n).Int("workers", want).
		Msg("reloading: starting a new generation of workers")
	a.fill()
	a.maybeCommit()
}

// changeListeners opens the listeners of a changed bind for generation
// gen (Gunicorn binds the new address list on HUP); the addresses still
// bound keep their sockets. Sockets systemd passed stay as they are.
func (a *arbiter) changeListeners(gen int, nc *config.Config) error {
	old := a.cur.cfg
	if nc.Backlog != old.Backlog || nc.ReusePort != old.ReusePort {
		a.log.Warn().Int("backlog", nc.Backlog).Bool("reuse_port", nc.ReusePort).
			Msg("reload: backlog and reuse_port apply to the addresses a reload binds; the sockets already bound keep theirs")
	}
	if slices.Equal(nc.Bind, old.Bind) {
		return nil
	}
	opened, err := a.env.rebind(gen, nc)
	if errors.Is(err, errFixedListeners) {
		a.log.Warn().Strs("bind", old.Bind).Strs("new_bind", nc.Bind).Err(err).Msg("reload: keeping the listeners")
		nc.Bind = old.Bind
		return nil
	}
	if err != nil {
		return err
	}
	for _, l := range opened {
		a.log.Info().Str("address", l.addr).Msg(errorlog.MsgListening)
	}
	return nil
}

// noteMasterKeeps warns of the settings a reload changed that the
// master opened at its start and keeps until a restart: its error log
// and StatsD client. The new workers use the new values, so the two
// would part silently (Gunicorn's reload changes neither).
func (a *arbiter) noteMasterKeeps(nc *config.Config) {
	old := a.started
	var kept []string
	for _, s := range []struct {
		name    string
		changed bool
	}{
		{"errorlog", nc.ErrorLog != old.ErrorLog},
		{"loglevel", nc.LogLevel != old.LogLevel},
		{"log_format", nc.LogFormat != old.LogFormat},
		{"syslog", nc.Syslog != old.Syslog || nc.SyslogAddr != old.SyslogAddr ||
			nc.SyslogPrefix != old.SyslogPrefix || nc.SyslogFacility != old.SyslogFacility},
		{"statsd", nc.StatsdHost != old.StatsdHost || nc.StatsdPrefix != old.StatsdPrefix ||
			nc.DogstatsdTags != old.DogstatsdTags || nc.EnableBacklogMetric != old.EnableBacklogMetric},
	} {
		if s.changed {
			kept = append(kept, s.name)
		}
	}
	if len(kept) > 0 {
		a.log.Warn().Strs("settings", kept).
			Msg("reload: the master keeps the log and StatsD settings it started with until a restart; the new workers use the new ones")
	}
}

// settleReload runs once generation g serves in place of prev: the
// listeners only prev used close (its workers keep their copies while
// they finish), and the pidfile moves if the setting changed.
func (a *arbiter) settleReload(prev, g *generation) {
	for _, l := range a.env.settleListeners(g.n) {
		a.log.Info().Str("address", l.addr).Msg("reloaded: no longer listening; the old workers finish the connections they took")
	}
	if g.cfg.Pidfile == prev.cfg.Pidfile {
		return
	}
	if err := a.env.movePidfile(g.cfg.Pidfile); err != nil {
		a.log.Error().Err(err).Str("pidfile", g.cfg.Pidfile).Msg("reload: cannot write the new pidfile; keeping the old one")
		g.cfg.Pidfile = prev.cfg.Pidfile
	}
}

// maybeCommit switches to the new generation once all its workers are
// ready, and stops the old ones gracefully.
func (a *arbiter) maybeCommit() {
	g := a.next
	if g == nil || a.count(g, isServing) < g.want {
		return
	}
	prev := a.cur
	a.cur, a.next = g, nil
	a.settleReload(prev, g)
	for _, w := range a.byID() {
		if w.gen != g.n && (w.active() || w.state == replacing) {
			a.stopWorker(w, "replaced by a reload")
		}
	}
	a.log.Info().Int("generation", g.n).Int("workers", g.want).
		Msg("reloaded: the new workers serve; the old ones finish their requests")
	if a.announced {
		a.env.notify("READY=1")
	} else {
		a.announced = true
		a.env.ready()
	}
	a.reloadAgain()
}

// failReload drops the generation that is booting; the current one
// keeps serving.
func (a *arbiter) failReload(why string) {
	a.log.Error().Int("generation", a.next.n).Str("reason", why).
		Msg("reload failed: the old workers keep serving")
	a.cancelReload()
	a.env.notify("READY=1")
	a.reloadAgain()
}

// cancelReload quickly stops the workers of the generation booting, if
// any.
func (a *arbiter) cancelReload() {
	g := a.next
	if g == nil {
		return
	}
	a.next = nil
	for _, l := range a.env.settleListeners(a.cur.n) {
		a.log.Info().Str("address", l.addr).Msg("the reload's new address is closed again")
	}
	for _, w := range a.byID() {
		if w.gen == g.n && w.state != stopping {
			a.quit(w)
			w.killAt = a.env.now().Add(quickStopGrace)
		}
	}
}

func (a *arbiter) reloadAgain() {
	if req := a.again; req != nil {
		a.again = nil
		a.startReload(*req)
	}
}
