package engine

import (
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/httpparse"
	"github.com/gowsgi/gowsgi/wsgi"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// server accepts and serves connections. Its fields are set by
// newServer and then read-only, except where marked.
type Server struct {
	cfg    *config.Config
	log    zerolog.Logger
	lns    []*listener
	limits httpparse.Limits
	dates  wsgi.DateCache
	app    App
	// prepare is app's Prepare, nil when it is no Preparer.
	prepare func(*Request)
	extras  *Extras // the access log, proxy trust and StatsD; nil in unit tests
	hooks   Hooks   // pre_request and post_request; nil when none
	// preHook and postHook: hooks runs them (Hooks.Runs).
	preHook, postHook bool
	uwsgi             *uwsgiFront                    // --protocol uwsgi; nil for HTTP
	tls               *tlsFront                      // --certfile; nil for plain HTTP
	rids              *requestIDs                    // --request-id-header
	defaults          *defaultHeaders                // --response-header; nil for none
	schemeHeaders     []wsgi.SchemeHeader            // secure_scheme_headers; immutable
	mount             string                         // SCRIPT_NAME of every request (mountPoint)
	appLag            func(probe bool) time.Duration // Options.AppLag
	offerSockets      bool                           // Options.OfferSockets
	streamBodies      bool                           // Options.StreamBodies
	passer            *passer                        // Options.Pass with siblings; nil: no passing (pass.go)

	// hookNotes: the kinds of pre_request change the worker ignored and
	// said so (hookchange.go); set by any serve goroutine, atomically.
	hookNotes hookNotes

	// Timeouts and sizes from the config; 0 means none.
	headerTimeout   time.Duration // from a request's first byte to its last header
	bodyTimeout     time.Duration // longest wait for request body bytes
	writeTimeout    time.Duration // longest wait for the client to take response bytes
	maxBufferedBody int64         // request bodies past this spill to a file
	// refuseUnderscores: --header-map refuse (headermap.go).
	refuseUnderscores bool
	// spillUnwritable: a body could not be spilled (no writable
	// temporary directory), which is logged once (reqbody.go).
	spillUnwritable atomic.Bool
	// spillFull: a spilled body met a full disk, logged once (spillfull.go).
	spillFull atomic.Bool
	bodies    *bodyBudgets // never nil

	// slots hands out the app's slots (Options.Slots; --threads for
	// WSGI); a request holds one while the app runs or produces its
	// response, not while a client reads it.
	slots *slotPool
	// allSlots lists every slot, for scanning the calls in flight.
	allSlots []*slot
	// spares holds exchanges to replace one that a slow response keeps
	// parked after giving its slot back; parked counts those responses
	// (park.go).
	spares spareExchanges
	parked atomic.Int64
	// maxParked is immutable once serving: maxParkedResponses when the
	// Callers pin threads (Options.PinsThreads), lowered in tests;
	// parkedFull notes that a response waited unparked.
	maxParked  int64
	parkedFull atomic.Bool
	// outboxes bounds the response bytes held for slow clients in all
	// (--response-memory-budget).
	outboxes outboxBudget
	// load gates accepting on the Python threads being free.
	gate *gate
	// connSem bounds open connections (--worker-connections, lowered to
	// what the descriptor limit allows): room.go.
	connSem chan struct{}
	// firstByteTimeout bounds a new connection's wait for its first byte.
	firstByteTimeout time.Duration
	// freshWaiting counts new connections waiting for their first byte
	// (conn.peekRequest).
	freshWaiting atomic.Int64
	// room counts the connections closed early; evictPending, those
	// makeRoom cut that have not ended yet (room.go).
	room         roomStats
	evictPending atomic.Int64
	evictScratch []candidate    // guarded by mu
	clientPlaces map[string]int // guarded by mu: makeRoom's count per client
	// stop is closed (under mu) when a graceful stop begins: accept
	// loops return, idle connections stop waiting.
	stop chan struct{}
	// retire asks the master to replace this worker; set by StartStats.
	// starvedRetired: it did, out of descriptors (retireIfStarved).
	retire         func(stuck bool)
	starvedRetired atomic.Bool
	// handoff gives a new connection to a goroutine waiting for one;
	// idleServers counts them, up to maxIdleServers. spareConns holds
	// the storage of connections that ended, for newConn.
	handoff     chan *conn
	idleServers atomic.Int32
	spareConns  chan *conn

	stats *stats // counters for the master's /metrics; nil in unit tests

	mu    sync.Mutex
	conns map[*conn]struct{} // guarded by mu
	// openConns is len(conns), read without mu (--limit-concurrency);
	// connSem also counts the places accept loops reserve.
	openConns atomic.Int64
	// peakConns is the most connections open at once since the memory
	// they held was last released (release.go); guarded by mu.
	peakConns int
	// retireBy and retireFreshBy are when idle connections are closed
	// in a graceful stop (retire.go); written by drain before it closes
	// stop, read after.
	retireBy, retireFreshBy time.Time
	wg                      sync.WaitGroup // one per accept loop and per connection
}

// slot is one of the app's slots (for WSGI a Python thread): the right
// to call into the app, the exchange it calls with, and what it is
// doing (for liveness).
type slot struct {
	x     *exchange // owned by the slot's holder; replaced when a response parks it
	call  callState
	index int // immutable: its place in allSlots
}

// exchange is what one app call works in: the app's Caller (which holds
// the response head and small chunks) and the head buffer. It stays
// with a response that is parked waiting for a slow client, while its
// slot serves other requests with a spare.
type exchange struct {
	call   Caller
	head   []byte
	fields [][2][]byte // the app's headers, for wsgi.AppendHead
}

func (s *Server) newExchange() *exchange {
	return &exchange{call: s.app.NewCaller(), head: make([]byte, 0, 1024)}
}

// spareExchanges recycles the exchanges that stand in for parked ones.
// It keeps at most maxSpareExchanges; Callers may hold resources outside
// Go (C memory, Python objects) and are closed, not left to the garbage
// collector.
type spareExchanges struct {
	make func() *exchange // immutable
	mu   sync.Mutex
	list []*exchange // guarded by mu
}

const maxSpareExchanges = 64

func (p *spareExchanges) get() *exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.list); n > 0 {
		x := p.list[n-1]
		p.list = p.list[:n-1]
		return x
	}
	return p.make()
}

func (p *spareExchanges) put(x *exchange) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.list) < maxSpareExchanges {
		p.list = append(p.list, x)
		return
	}
	x.call.Close()
}

// Options are what New needs besides the configuration.
type Options struct {
	App App
	// Slots bounds the concurrent calls into the app (--threads for
	// WSGI); at least 1. The accept gate keeps the connections that can
	// make progress below it.
	Slots int
	// AppLag, when set, reports how long the oldest piece of work the
	// app has not yet begun has waited: for an event loop, the oldest
	// event it has not taken (probe: the gate asks, and the app may queue
	// a no-op to see a loop blocked while idle). A worker whose app lags
	// by appBehind or more leaves new connections to its siblings
	// (gate.keepsUp); the stats report it. nil for WSGI, whose gate
	// counts busy threads instead.
	AppLag func(probe bool) time.Duration
	// OfferSockets: a request that asks to become a WebSocket may take
	// the connection over itself (takeover.go; WSGI's
	// environ["gunicorn.socket"]).
	OfferSockets bool
	// PinsThreads: the app's Callers keep their OS thread while their
	// response is parked (WSGI: Enter locks it), so at most
	// maxParkedResponses park at once (park.go). An ASGI response parks
	// without one, and without that bound.
	PinsThreads bool
	// StreamBodies: a request body over streamedOver bytes, or chunked,
	// streams to the app as it arrives instead of being read ahead, for
	// an app whose wait for the body takes no thread (ASGI): it runs as
	// soon as the head is in, as under Uvicorn, and may refuse an upload
	// (a 401, its own 413) before the upload is all sent.
	StreamBodies bool
	Extras       *Extras // nil: no access log, no proxy trusted, no StatsD
	Hooks        Hooks   // nil: none
	// Pass: the sockets the workers share to pass each other a
	// connection whose request waits for a thread (pass.go); nil: none.
	// Used when there are siblings (--workers above 1).
	Pass *PassSockets
}

// New returns a server for the listeners lns, serving opt.App. Only an
// unusable TLS setup (--certfile and co.) is an error; a listener that
// cannot be used is logged and left out.
func New(cfg *config.Config, log zerolog.Logger, lns []net.Listener, opt Options) (*Server, error) {
	tls, err := newTLSFront(cfg, log)
	if err != nil {
		return nil, err
	}
	s := newServer(cfg, log, lns, opt)
	s.tls = tls
	return s, nil
}

func newServer(cfg *config.Config, log zerolog.Logger, lns []net.Listener, opt Options) *Server {
	threads := max(opt.Slots, 1)
	limit := connLimit(cfg.WorkerConnections) // the master logs it
	s := &Server{
		cfg:             cfg,
		log:             log,
		app:             opt.App,
		extras:          opt.Extras,
		hooks:           opt.Hooks,
		headerTimeout:   cfg.HeaderTimeout,
		bodyTimeout:     cfg.BodyTimeout,
		writeTimeout:    cfg.WriteTimeout,
		maxBufferedBody: cfg.MaxBufferedBody,
		bodies:          newBodyBudgets(cfg),
		slots:           newSlotPool(threads),
		gate:            newGate(threads, len(lns)+1, cfg.Workers > 1), // the last wake is the pass loop's
		connSem:         make(chan struct{}, limit),
		stop:            make(chan struct{}),
		handoff:         make(chan *conn),
		spareConns:      make(chan *conn, maxIdleServers),
		conns:           make(map[*conn]struct{}),
		uwsgi:           newUwsgiFront(cfg, log),
		rids:            newRequestIDs(cfg.RequestIDHeader),
		defaults:        newDefaultHeaders(cfg),
		schemeHeaders:   schemeHeadersOf(cfg),
		limits: httpparse.Limits{
			RequestLine: cfg.LimitRequestLine,
			Fields:      cfg.LimitRequestFields,
			FieldSize:   cfg.LimitRequestFieldSize,
			Body:        cfg.LimitRequestBody,
		},
	}
	s.mount, s.appLag, s.offerSockets = mountPoint(cfg), opt.AppLag, opt.OfferSockets
	s.streamBodies = opt.StreamBodies
	s.refuseUnderscores = cfg.HeaderMap == config.HeaderMapRefuse
	s.firstByteTimeout = cfg.FirstByteTimeout
	if s.firstByteTimeout <= 0 {
		s.firstByteTimeout = cfg.HeaderTimeout
	}
	if s.limits.TrailerBytes == 0 {
		s.limits.TrailerBytes = httpparse.DefaultLimits.TrailerBytes
	}
	s.gate.conns = func() int { return len(s.connSem) }
	s.gate.lag, s.gate.behind = opt.AppLag, soloBehind
	if s.gate.shed {
		s.gate.behind = appBehind
	}
	for i, ln := range lns {
		l, err := newListener(ln, s.gate, s.gate.wake[i])
		if err != nil {
			// Only a descriptor shortage at boot gets here; the other
			// listeners still serve.
			log.Error().Err(err).Stringer("address", ln.Addr()).Msg("cannot accept on an inherited listener")
			continue
		}
		l.plain = plainListener(cfg, i)
		s.lns = append(s.lns, l)
	}
	if opt.Pass != nil {
		s.passer = s.newPasser(*opt.Pass, cfg.Workers > 1)
	}
	s.spares.make = s.newExchange
	s.maxParked = math.MaxInt64
	if opt.PinsThreads {
		s.maxParked = maxParkedResponses
	}
	s.outboxes.limit = cfg.ResponseMemoryBudget
	if p, ok := s.app.(Preparer); ok {
		s.prepare = p.Prepare
	}
	if s.hooks != nil {
		s.preHook, s.postHook = s.hooks.Runs()
	}
	for i := range threads {
		sl := &slot{x: s.newExchange(), index: i}
		s.allSlots = append(s.allSlots, sl)
		s.slots.give(sl)
	}
	return s
}

// takeSlot waits for a Python thread and marks it busy with the
// request for method and path since now, or since it got the thread
// when it had to wait.
func (s *Server) takeSlot(method, path []byte, now time.Time) *slot {
	sl, waited := s.slots.take()
	if waited {
		now = time.Now()
	}
	sl.call.begin(method, path, sl.x.call, now)
	s.gate.took(now)
	return sl
}

// takeSlotFor waits for a slot for c's request, which arrived at t0,
// counting the wait, and records who the request is for.
func (s *Server) takeSlotFor(c *conn, t0 time.Time) *slot {
	sl := s.takeSlot(c.req.Method, c.req.Path, t0)
	ws := s.stats
	if ws == nil {
		return sl
	}
	ws.queue.observe(time.Unix(0, sl.call.since.Load()).Sub(t0))
	x := &ws.slots[sl.index]
	x.mu.Lock()
	x.owner, x.x, x.client = c, nil, c.info.RemoteAddr
	x.requestID = append(x.requestID[:0], c.requestIDBytes()...)
	x.mu.Unlock()
	return sl
}

func (s *Server) giveSlot(sl *slot) {
	sl.call.end()
	s.slots.give(sl)
}

// Serve starts an accept loop on each listener; connections are served
// until Drain.
func (s *Server) Serve() {
	for _, ln := range s.lns {
		s.wg.Add(1)
		go s.acceptLoop(ln)
	}
	if s.passer != nil {
		s.wg.Add(1)
		go s.passLoop()
	}
}

// Drain stops accepting (the master keeps the listening sockets, so
// connections still queued go to the other workers), answers what
// arrives with Connection: close, closes idle connections once no
// request can be lost (retire.go) and waits for the requests in flight;
// the master kills the worker if this outlasts --graceful-timeout.
func (s *Server) Drain() {
	s.mu.Lock()
	s.beginRetirement(time.Now())
	close(s.stop)
	for c := range s.conns {
		c.wakeIfIdle()
		c.stopSession()
	}
	s.mu.Unlock()
	s.log.Info().Msg(errorlog.MsgGracefulStop)
	for _, ln := range s.lns {
		ln.Close()
	}
	if s.passer != nil {
		// Ends the pass loop's wait, as closing a listener does; it then
		// takes what is left (takeLeftovers).
		s.passer.recv.SetReadDeadline(time.Now())
	}
	s.wg.Wait()
	if s.passer != nil {
		s.passer.close()
	}
}

// newConn registers a connection on the descriptor fd, or returns nil
// when it cannot be set up. One accepted as a graceful stop begins is
// served all the same: its request may be on its way.
func (s *Server) newConn(fd int, sa unix.Sockaddr, ln *listener) *conn {
	local, remote := ln.peerAddrs(fd, sa)
	sk, err := newSock(fd, s.gate, local, remote)
	if err != nil {
		s.gate.done()
		s.log.Warn().Err(err).Msg("cannot set up a connection")
		return nil
	}
	if !ln.plain {
		sk.tlsFront = s.tls // nil without --certfile
	}
	c := s.spareConn()
	c.open(s, sk, time.Now())
	s.register(c)
	return c
}

// register counts c among the open connections, which Drain waits for.
func (s *Server) register(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns[c] = struct{}{}
	s.notePeak()
	s.openConns.Add(1)
	s.wg.Add(1)
}

// maxIdleServers bounds the goroutines that wait for a connection to
// serve, and the connections' storage kept for new ones.
const maxIdleServers = 128

// serveConns serves c, then the connections handed to it while it
// waits, until there are maxIdleServers waiting already or a graceful
// stop begins. Under connection churn (Connection: close, HTTP/1.0
// clients) a goroutine whose stack already grew to what serving needs,
// and a conn whose buffers already grew, cost a fraction of new ones:
// growing them, and collecting what that left, was about a quarter of a
// short request's CPU.
func (s *Server) serveConns(c *conn) {
	for {
		c.serve()
		<-s.connSem
		s.wg.Done()
		s.keepSpare(c)
		if s.idleServers.Add(1) > maxIdleServers {
			s.idleServers.Add(-1)
			return
		}
		select {
		case c = <-s.handoff:
			s.idleServers.Add(-1)
		case <-s.stop:
			s.idleServers.Add(-1)
			return
		}
	}
}

// spareConn returns the storage of a connection that ended, or new.
func (s *Server) spareConn() *conn {
	select {
	case c := <-s.spareConns:
		return c
	default:
		return new(conn)
	}
}

func (s *Server) keepSpare(c *conn) {
	select {
	case s.spareConns <- c:
	default:
	}
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.openConns.Add(-1)
}

// isDraining reports whether a graceful stop has begun: drain closes
// stop, and reading a channel takes no lock.
func (s *Server) isDraining() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}
