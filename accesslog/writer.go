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

	mu  sync.Mutex
	f   *os.File // guarded by mu; nil for no file, else never nil while open
	buf []byte   // guarded by mu
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
	if w.f != nil {
		w.f.Write(w.buf)
	}
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
	if w.f != nil {
		w.f.Write(w.buf)
	}
	if w.tee != nil {
		w.tee(w.buf[:len(w.buf)-1])
	}
	w.mu.Unlock()
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
