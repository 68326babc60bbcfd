package worker

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/pyshim"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// maxCapturedLine cuts longer output lines into several events.
const maxCapturedLine = 64 << 10

// captureOutput (--capture-output) turns whatever is written to fd 1 and
// fd 2 (print(), the logging module's default handler, C libraries) into
// error-log events, one per line, with stream "stdout" or "stderr" and no
// level, as Gunicorn's capture writes the app's output raw into its error
// log: --log-level does not hide them, the StatsD log counters do not
// count them (an app logging at INFO to stderr counted every line in
// gunicorn.log.warning), and the text formats write the bare line.
//
// Go's own writers keep the original outputs: os.Stdout and os.Stderr
// become duplicates of them, the error log writes to the stderr
// duplicate when it is stderr (or each event would come back through the
// pipe), and a Go crash report goes there too.
func captureOutput(elog *errorlog.Log, log zerolog.Logger) error {
	origOut, err := dupFile(1, "stdout")
	if err != nil {
		return err
	}
	origErr, err := dupFile(2, "stderr")
	if err != nil {
		return err
	}
	outR, err := redirect(1)
	if err != nil {
		return err
	}
	errR, err := redirect(2)
	if err != nil {
		return err
	}
	os.Stdout, os.Stderr = origOut, origErr
	elog.RedirectStderr(origErr)
	if err := debug.SetCrashOutput(origErr, debug.CrashOptions{}); err != nil {
		log.Warn().Err(err).Msg("Go crash reports may be lost with --capture-output")
	}
	pyshim.SetCrashOutput(origErr.Fd())
	// Python buffers a piped stdout by blocks; lines should show when
	// printed, as they do on a terminal.
	if _, set := os.LookupEnv("PYTHONUNBUFFERED"); !set {
		os.Setenv("PYTHONUNBUFFERED", "1")
	}
	forwarding.Add(2)
	go forwardLines(outR, log, "stdout")
	go forwardLines(errR, log, "stderr")
	capturing = true
	return nil
}

// capturing is set once captureOutput has redirected fds 1 and 2;
// forwarding counts its forwarders still reading.
var (
	capturing  bool
	forwarding sync.WaitGroup
)

// endCaptureWait bounds endCapture's wait for output that a process the
// app started, which still holds the pipes, might go on writing.
const endCaptureWait = 500 * time.Millisecond

// endCapture logs what the app wrote last, before the worker exits: its
// atexit functions' lines and a line without its newline, which the
// forwarders still held or had not read when the process ended (all of
// them were lost). Pointing fds 1 and 2 at /dev/null closes this
// process's write ends of the pipes, so the forwarders read to their
// end.
func endCapture() {
	if !capturing {
		return
	}
	if devnull, err := unix.Open("/dev/null", unix.O_WRONLY|unix.O_CLOEXEC, 0); err == nil {
		unix.Dup3(devnull, 1, 0)
		unix.Dup3(devnull, 2, 0)
		unix.Close(devnull)
	}
	done := make(chan struct{})
	go func() {
		forwarding.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(endCaptureWait):
	}
}

func dupFile(fd int, name string) (*os.File, error) {
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(d), name), nil
}

// redirect points fd at the write end of a new pipe and returns the
// read end.
func redirect(fd int) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	if err := unix.Dup3(int(w.Fd()), fd, 0); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// forwardLines logs each line read from r as an event with the stream's
// name, until the process exits.
func forwardLines(r io.Reader, log zerolog.Logger, stream string) {
	defer forwarding.Done()
	br := bufio.NewReaderSize(r, maxCapturedLine)
	for {
		line, err := br.ReadSlice('\n')
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(line) > 0 || err == nil {
			log.WithLevel(zerolog.NoLevel).Str(errorlog.CapturedStream, stream).Msg(string(line))
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}
