package worker

import (
	"time"

	"github.com/gowsgi/gowsgi/handoff"
)

// The worker reports what its engine served to the master every
// handoff.StatsInterval on the control pipe; the master sums the
// workers for /metrics and lists their busy threads in /status. The
// engine counts (engine.Server.Tick); the worker sends.

// startReports begins counting in the engine, reporting to the master
// and answering stack requests; Main calls it before run.
func (p *process) startReports() {
	p.srv.StartStats(func(stuck bool) {
		msg := handoff.MsgRetire
		if stuck {
			msg = handoff.MsgRetireStuck
		}
		p.ctl.WriteString(msg + "\n")
	})
	go p.report()
	go p.answerStacks()
}

// report sends the stats every handoff.StatsInterval; Tick also
// enforces --request-timeout.
func (p *process) report() {
	t := time.NewTicker(handoff.StatsInterval)
	defer t.Stop()
	var last string
	var sentAt time.Time
	for now := range t.C {
		line := p.srv.Tick(now).Line()
		if line == last && now.Sub(sentAt) < statsResend {
			continue // an idle worker does not wake the master four times a second
		}
		p.ctl.WriteString(line + "\n")
		last, sentAt = line, now
	}
}

// statsResend is how often an unchanged report is sent anyway.
const statsResend = 5 * time.Second
