package worker

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/httpparse"
	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/gowsgi/gowsgi/wsgi"
	"github.com/rs/zerolog"
)

// Timeouts a connection is held to. Idle keep-alive is --keep-alive.
const (
	headerTimeout = 30 * time.Second // from a request's first byte to its last header
	bodyTimeout   = 30 * time.Second // between two reads of a request body
	writeTimeout  = 30 * time.Second // for each write of a response
)

// server accepts and serves connections. Its fields are set by
// newServer and then read-only, except where marked.
type server struct {
	cfg    *config.Config
	log    zerolog.Logger
	lns    []net.Listener
	limits httpparse.Limits
	dates  wsgi.DateCache
	extras *extras     // logs and proxy trust, set by Main before run; nil in unit tests
	uwsgi  *uwsgiFront // --protocol uwsgi; nil for HTTP

	// slots hands out the Python call slots; a request holds one for as
	// long as it runs in, or streams from, the app.
	slots chan *slot
	// allSlots lists every slot, for scanning the calls in flight.
	allSlots []*slot
	// connSem bounds open connections (--worker-connections).
	connSem chan struct{}

	mu       sync.Mutex
	conns    map[*conn]struct{} // guarded by mu
	draining bool               // guarded by mu: a graceful stop began
	wg       sync.WaitGroup     // one per accept loop and per connection
}

// slot is one concurrent Python call: its exchange buffers and the head
// buffer the response is framed in.
type slot struct {
	ex   *pyshim.Exchange
	head []byte
	call callState
}

func newServer(cfg *config.Config, log zerolog.Logger, lns []net.Listener) *server {
	s := &server{
		cfg:     cfg,
		log:     log,
		lns:     lns,
		slots:   make(chan *slot, max(cfg.Threads, 1)),
		connSem: make(chan struct{}, max(cfg.WorkerConnections, 1)),
		conns:   make(map[*conn]struct{}),
		uwsgi:   newUwsgiFront(cfg, log),
		limits: httpparse.Limits{
			RequestLine: cfg.LimitRequestLine,
			Fields:      cfg.LimitRequestFields,
			FieldSize:   cfg.LimitRequestFieldSize,
			Body:        cfg.LimitRequestBody,
		},
	}
	if s.limits.TrailerBytes == 0 {
		s.limits.TrailerBytes = httpparse.DefaultLimits.TrailerBytes
	}
	for range cap(s.slots) {
		sl := &slot{ex: pyshim.NewExchange(pyshim.MinBuffer), head: make([]byte, 0, 1024)}
		s.allSlots = append(s.allSlots, sl)
		s.slots <- sl
	}
	return s
}

// drain stops accepting, closes idle connections and waits for the
// requests in flight; the master kills the worker if this outlasts
// --graceful-timeout.
func (s *server) drain() {
	s.mu.Lock()
	s.draining = true
	for c := range s.conns {
		c.wakeIfIdle()
	}
	s.mu.Unlock()
	for _, ln := range s.lns {
		ln.Close()
	}
	s.wg.Wait()
}

func (s *server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	for {
		s.connSem <- struct{}{}
		nc, err := ln.Accept()
		if err != nil {
			<-s.connSem
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Warn().Err(err).Msg("accept failed")
			time.Sleep(10 * time.Millisecond) // EMFILE and friends: do not spin
			continue
		}
		c := s.newConn(nc)
		if c == nil {
			<-s.connSem
			continue
		}
		go func() {
			defer s.wg.Done()
			defer func() { <-s.connSem }()
			c.serve()
		}()
	}
}

// newConn registers a connection, or closes it and returns nil when a
// graceful stop has begun.
func (s *server) newConn(nc net.Conn) *conn {
	c := &conn{srv: s, nc: nc, br: bufio.NewReaderSize(nc, 4096)}
	c.info = connInfo(nc)
	c.reader = httpparse.NewReader(c.br, s.limits)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		nc.Close()
		return nil
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return c
}

func (s *server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}
