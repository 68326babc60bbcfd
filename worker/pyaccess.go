package worker

import (
	"encoding/binary"
	"runtime"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/engine"
	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/rs/zerolog"
)

// With a Python logging configuration, each request's access record goes
// through Python's logging as under Gunicorn (engine/accesspy.go). The
// records are written by one goroutine of their own, on one OS thread,
// after the responses went out: a connection never waits for the GIL to
// log, and under load one GIL acquisition writes every record that
// queued up meanwhile.

// accessCloseWait bounds how long a stopping worker waits for Python's
// logging to take the last records.
const accessCloseWait = 5 * time.Second

// maxQueuedRecords bounds the bytes of records waiting for Python: a
// handler that blocks (a full pipe) then holds up the connections that
// log, as it holds up Gunicorn's worker, rather than let the queue grow.
const maxQueuedRecords = 1 << 20

// pyAccess queues the records for Python's logging and writes them.
type pyAccess struct {
	log zerolog.Logger // immutable
	// wake has a token when records wait; the writer takes it. Close
	// closes it.
	wake chan struct{}

	mu sync.Mutex
	// taken is broadcast when the writer took the queue (Add waits for
	// room) and when it wrote a batch (Flush waits for its records).
	taken *sync.Cond
	// queue holds the records not yet taken, each its length (uint32,
	// native byte order) then the record; spare is the other buffer,
	// which the writer hands back. Guarded by mu.
	queue, spare []byte
	// added counts the records queued, written those written or failed.
	// Guarded by mu.
	added, written uint64
	closed         bool // guarded by mu: Close was called
	// late: a Flush gave up waiting, so later ones do not wait again
	// for a logging that does not keep up (a stopping worker would wait
	// for each). Guarded by mu.
	late bool
}

var _ engine.AccessRecords = (*pyAccess)(nil)

// usePythonAccess asks Python's logging, set up and with the app
// imported, whether it takes the access records, and sets the access
// log up for it: ext.Access becomes nil when nothing is logged. It
// returns the writer of the records, to Close after the last request;
// nil when there is none.
func usePythonAccess(cfg *config.Config, log zerolog.Logger, ext *engine.Extras, asgi bool) *pyAccess {
	if ext.Access == nil {
		return nil
	}
	records, lines, err := pyshim.AccessLogging()
	if err != nil {
		log.Error().Msg("cannot ask Python's logging about the access log; its records are not written:\n" + tracebackOf(err))
	}
	var p *pyAccess
	var rec engine.AccessRecords // a nil *pyAccess would be a non-nil interface
	if records {
		p = startPyAccess(log)
		rec = p
	}
	if cfg.LoggerClass != "" {
		// The class's handlers write the lines (pylogging.py).
		pyshim.SetAccessLineSink(ext.Access.WriteLine)
	} else if !lines && cfg.AccessLog != "" {
		log.Info().Str("access_logfile", cfg.AccessLog).Msg("the logging configuration replaced the handlers of " +
			"gunicorn.access, as it replaces Gunicorn's: the access log file gets no lines, they go to its handlers")
	}
	ext.Access = ext.Access.UsePython(rec, asgi, lines)
	return p
}

// startPyAccess starts the writer.
func startPyAccess(log zerolog.Logger) *pyAccess {
	p := &pyAccess{log: log, wake: make(chan struct{}, 1)}
	p.taken = sync.NewCond(&p.mu)
	go p.run()
	return p
}

// Add queues record (engine.AccessRecords).
func (p *pyAccess) Add(record []byte, dying bool) {
	p.mu.Lock()
	for len(p.queue) >= maxQueuedRecords && !p.closed {
		if dying {
			p.mu.Unlock()
			return
		}
		p.taken.Wait()
	}
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.queue = binary.NativeEndian.AppendUint32(p.queue, uint32(len(record)))
	p.queue = append(p.queue, record...)
	p.added++
	select { // under mu: Close closes wake under it
	case p.wake <- struct{}{}:
	default: // the writer has a token already
	}
	p.mu.Unlock()
}

// Flush waits for the records added so far (engine.AccessRecords).
func (p *pyAccess) Flush(timeout time.Duration) {
	p.mu.Lock()
	late := p.late
	p.mu.Unlock()
	if late {
		return
	}
	flushed := make(chan struct{})
	go func() { // left waiting if Python never takes the records: the worker is ending
		p.mu.Lock()
		for target := p.added; p.written < target; {
			p.taken.Wait()
		}
		p.mu.Unlock()
		close(flushed)
	}()
	select {
	case <-flushed:
	case <-time.After(timeout):
		p.mu.Lock()
		p.late = true
		p.mu.Unlock()
		p.log.Warn().Dur("waited", timeout).Msg("Python's logging did not take the last access records in time")
	}
}

// Close writes what is queued, waiting for accessCloseWait at most, and
// stops the writer: after the last request, before worker_exit. A nil
// *pyAccess closes nothing.
func (p *pyAccess) Close() {
	if p == nil {
		return
	}
	p.Flush(accessCloseWait)
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.wake) // the writer writes what is left, and returns
		p.taken.Broadcast()
	}
	p.mu.Unlock()
}

// run writes the queued records, a batch per wake-up, holding the GIL
// once per batch. Its OS thread keeps one Python thread state.
func (p *pyAccess) run() {
	runtime.LockOSThread() // never unlocked: the thread ends with the writer
	for range p.wake {
		p.mu.Lock()
		batch, n := p.queue, p.added-p.written
		p.queue, p.spare = p.spare[:0], nil
		p.taken.Broadcast()
		p.mu.Unlock()
		if err := pyshim.LogAccess(batch); err != nil {
			p.log.Error().Msg("cannot write an access record through Python's logging:\n" + tracebackOf(err))
		}
		p.mu.Lock()
		p.written += n
		p.spare = batch[:0]
		p.taken.Broadcast()
		p.mu.Unlock()
	}
}
