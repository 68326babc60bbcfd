package worker

import (
	"errors"
	"os"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/engine"
	"github.com/gowsgi/gowsgi/handoff"
	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/gowsgi/gowsgi/wsgi"
	"github.com/rs/zerolog"
)

// The ASGI worker (--worker-class asgi, docs/asgi.md): the app loaded as
// for WSGI runs on one event loop per worker (pyshim.Loop), started
// after the import and before the worker takes connections; the
// lifespan startup runs there first, and the shutdown after the last
// connection.

// startASGI starts the event loop and runs the lifespan startup. It
// returns the engine's App, or the exit code that tells the master why
// the worker cannot serve: a failed startup is a boot failure
// (handoff.ExitWorkerBootError), as in Uvicorn, which exits with 3.
// proxies are the --forwarded-allow-ips peers, whose X-Forwarded-For
// names the scope's client with --proxy-headers.
func startASGI(cfg *config.Config, log zerolog.Logger, proxies wsgi.TrustedPeers) (*asgiApp, int) {
	loop, err := pyshim.StartLoop(pyshim.LoopOptions{
		Loop: cfg.ASGILoop, Lifespan: cfg.ASGILifespan,
		Log: func(text string) { log.Error().Msg(text) },
	})
	if err != nil {
		log.Error().Str("loop", cfg.ASGILoop).Msg("cannot start the ASGI event loop:\n" + tracebackOf(err))
		return nil, handoff.ExitWorkerBootError
	}
	err = loop.Startup(0) // the master's boot timeout bounds it
	switch {
	case errors.Is(err, pyshim.ErrLifespanUnsupported):
		log.Info().Msg("ASGI 'lifespan' protocol appears unsupported: the app raised on lifespan.startup " +
			"(--lifespan on makes this an error):\n" + err.Error())
	case err != nil:
		log.Error().Msg("ASGI lifespan startup failed; this worker stops:\n" + tracebackOf(err))
		loop.Stop(time.Second)
		return nil, handoff.ExitWorkerBootError
	}
	log.Info().Str("loop", loop.Name()).Str("lifespan", cfg.ASGILifespan).Msg("ASGI event loop running")
	ws := wsLimits{maxSize: cfg.WSMaxSize, pingInterval: cfg.WSPingInterval, pingTimeout: cfg.WSPingTimeout,
		writeTimeout: cfg.WriteTimeout}
	app := &asgiApp{loop: loop, budget: asgiBudget(cfg), ws: ws, log: log, pathWithoutRoot: pyshim.ASGIPathWithoutRoot()}
	if app.pathWithoutRoot && (cfg.RootPath != "" || os.Getenv("SCRIPT_NAME") != "") {
		log.Info().Msg("the app's Starlette (before 0.33) routes on the path without the mount point: " +
			"scope[\"path\"] is sent without root_path, as Uvicorn before 0.26 sent it")
	}
	if cfg.ProxyHeaders {
		app.proxies = &proxies
	}
	return app, 0
}

// asgiBudget is how many bytes of an ASGI app's events its connection
// holds before its send() awaits: asgiRunAhead, or --response-buffer
// when that is smaller.
func asgiBudget(cfg *config.Config) int { return min(cfg.ResponseBuffer, asgiRunAhead) }

// asgiRunAhead bounds how far an app's sends run ahead of its
// connection's goroutine before send() awaits: Uvicorn's flow-control
// mark (HIGH_WATER_LIMIT, 64 KiB). --response-buffer frees a WSGI
// app's Python thread for other requests; here a larger budget frees
// nothing, as a send() that awaits holds up no other request. It cost
// memory instead:
// with --response-buffer's 4 MiB, a worker streaming 1 MiB responses to
// 64 clients peaked at 180 MiB, against 50 MiB (and 15% more responses
// per second) at 64 KiB. The engine's outbox still holds up to
// --response-buffer for a client slow to read, as for WSGI.
const asgiRunAhead = 64 << 10

// asgiMaxSlots bounds the requests an ASGI worker runs at once when
// --worker-connections allows more: the engine keeps a small exchange
// per slot, made up front. Gunicorn's ASGI worker takes
// worker_connections (default 1000) as this limit too.
const asgiMaxSlots = 1000

// quickStopShutdown bounds each step of an ASGI worker's shutdown after a
// quick stop (INT, QUIT): the master kills the worker 2 s after it.
const quickStopShutdown = 400 * time.Millisecond

func asgiSlots(cfg *config.Config) int { return max(1, min(cfg.WorkerConnections, asgiMaxSlots)) }

// stop waits for the app's calls still running after their responses
// (background tasks), runs the lifespan shutdown, then stops the loop;
// after the engine has finished its last connection.
func (a *asgiApp) stop(grace time.Duration) {
	if n := a.loop.Calls(); n > 0 {
		a.log.Info().Int("calls", n).Msg("waiting for the ASGI app's calls still running (background tasks) to return")
		if !a.loop.AwaitCalls(grace) {
			a.log.Warn().Int("calls", a.loop.Calls()).Dur("waited", grace).Msg("the ASGI app's calls did not return in time; cancelling them")
		}
	}
	if err := a.loop.Shutdown(grace); err != nil {
		a.log.Error().Msg("ASGI lifespan shutdown failed:\n" + tracebackOf(err))
	}
	if err := a.loop.Stop(grace); err != nil {
		a.log.Error().Msg("the ASGI event loop did not stop cleanly:\n" + tracebackOf(err))
	}
}

// asgiCalls is what the lifecycle reads of an ASGI worker's calls: the
// engine's count, and for liveness the age of the event the loop has
// not yet taken, since a request waiting on the app's own I/O (a slow
// database, a long poll) is no sign of a stuck worker, while a loop
// that takes no event is.
type asgiCalls struct {
	srv  *engine.Server
	loop *pyshim.Loop
	// named is the request the loop's current stall was last found
	// running, asked by a heartbeat: the --timeout log's own question
	// may find the GIL still held longer than it waits, on a starved
	// machine, or the heartbeat's question still waiting for it.
	named namedStall
}

// namedStall is a stall that began at since, in the request
// method path.
type namedStall struct {
	since        time.Time
	method, path string
}

// stallNamed is how long the loop must have taken no event before the
// worker asks it which request it is running, for the heartbeat and the
// --timeout log: asyncio's own mark of a slow callback
// (loop.slow_callback_duration, 100 ms). Asking pauses the loop for a
// GIL switch; a loop that takes its events is never asked.
const stallNamed = 100 * time.Millisecond

// runningWait bounds the wait for the GIL held by a loop blocked in C.
const runningWait = 100 * time.Millisecond

// OldestStuckCall is the loop's stall as the --timeout log shows it: on
// the loop's thread, naming the request whose task runs there when the
// loop can tell (Loop.Running). ok is false when the loop is not
// stalled.
// Lifecycle goroutine only.
func (c *asgiCalls) OldestStuckCall(time.Time) (engine.StuckCall, bool) {
	call := engine.StuckCall{Age: c.loop.Stalled()}
	if call.Age < stallNamed {
		return call, false
	}
	since := time.Now().Add(-call.Age)
	call.Place = engine.CallPlace{Stage: engine.StageRunning, Thread: c.loop.Thread()}
	if conn := c.loop.Running(runningWait); conn != nil {
		// A WebSocket session left its slot at the 101: its Conn knows.
		call.Method, call.Path = conn.Request()
		if call.Method == "" {
			call.Method, call.Path, _ = c.srv.RequestOf(func(cl engine.Caller) bool {
				ac, ok := cl.(*asgiCaller)
				return ok && ac.conn.Load() == conn
			})
		}
		if call.Method != "" {
			c.named = namedStall{since: since, method: call.Method, path: call.Path}
		}
	} else if d := since.Sub(c.named.since); d > -sameStall && d < sameStall {
		call.Method, call.Path = c.named.method, c.named.path
	}
	return call, true
}

// sameStall: two stalls whose starts, as measured, are closer than this
// are one. Distinct stalls start at least stallNamed apart, as one must
// last that long to be named.
const sameStall = stallNamed / 2

func (c *asgiCalls) CallsBegun() uint64 { return c.srv.CallsBegun() }
