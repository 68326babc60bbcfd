package accesslog

import (
	"os"
	"sync"
)

// Writer appends lines to the access log file, or stdout for "-", and
// hands each to its tee. Safe for concurrent use: each line is one
// write(2) under the lock, so lines from the connection goroutines never
// interleave.
type Writer struct {
	path string
	// tee gets each line, without its newline, under the lock (syslog);
	// nil for none. Set by Tee before the first line.
	tee func(line []byte)
	// onFail hears of a line the file refused (a full disk), once per
	// run of refusals; nil for none. Set by OnFailure before the first
	// line.
	onFail func(err error)

	mu      sync.Mutex
	f       *os.File // guarded by mu; nil for no file, else never nil while open
	buf     []byte   // guarded by mu
	failing bool     // guarded by mu: the last write failed
}

// Open opens path for appending ("-" means stdout, "" no file: the lines
// go only to the tee).
func Open(path string) (*Writer, error) {
	w := &Writer{path: path}
	if err := w.Reopen(); err != nil {
		return nil, err
	}
	return w, nil
}

// Tee makes every line go to tee too (without its newline). Call it
// before the first Log.
func (w *Writer) Tee(tee func(line []byte)) { w.tee = tee }

// OnFailure makes a line the file refuses call fail, once until a line
// is written again (under the lock: fail must not log to this Writer).
// Call it before the first Log.
func (w *Writer) OnFailure(fail func(err error)) { w.onFail = fail }

// Reopen reopens the file by name, for logrotate (USR1).
func (w *Writer) Reopen() error {
	if w.path == "" {
		return nil
	}
	if w.path == "-" {
		w.mu.Lock()
		w.f = os.Stdout
		w.mu.Unlock()
		return nil
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	w.mu.Lock()
	old := w.f
	w.f = f
	w.mu.Unlock()
	if old != nil && old != os.Stdout {
		old.Close()
	}
	return nil
}

// Log formats e with f and writes it.
func (w *Writer) Log(f *Format, e *Entry) {
	w.mu.Lock()
	w.buf = f.Append(w.buf[:0], e)
	w.writeBuf()
	if w.tee != nil {
		w.tee(w.buf[:len(w.buf)-1])
	}
	w.mu.Unlock()
}

// WriteLine writes line, a line made elsewhere (a Python logger
// class's), as Log writes its own.
func (w *Writer) WriteLine(line []byte) {
	w.mu.Lock()
	w.buf = append(append(w.buf[:0], line...), '\n')
	w.writeBuf()
	if w.tee != nil {
		w.tee(w.buf[:len(w.buf)-1])
	}
	w.mu.Unlock()
}

// writeBuf writes buf to the file, if any, under the lock.
func (w *Writer) writeBuf() {
	if w.f == nil {
		return
	}
	_, err := w.f.Write(w.buf)
	switch {
	case err == nil:
		w.failing = false
	case !w.failing:
		w.failing = true
		if w.onFail != nil {
			w.onFail(err)
		}
	}
}

// Close closes the file (never stdout).
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil || w.f == os.Stdout {
		return nil
	}
	return w.f.Close()
}
