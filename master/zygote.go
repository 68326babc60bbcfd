package master

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/handoff"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// --preload. A Go process cannot fork itself, so each generation's
// workers are forked by a zygote: this binary started with
// handoff.ZygoteCommand, which imports the app once, before any Go
// runtime exists in it, and forks a worker per request. The workers are
// re-parented to the master (a child subreaper), so the arbiter reaps
// and supervises them exactly like re-executed workers; only spawn and
// reap know that zygotes exist.
//
// One zygote per generation: a reload (HUP, --reload) starts a new one,
// which imports the code as it is now, and the old one is stopped once
// none of its workers is left. A new zygote that cannot import the app
// still answers, with workers that exit with the failure's code, so the
// arbiter handles a bad deploy as it does without --preload: the old
// generation keeps serving, or at start the master stops with exit code
// 4. A zygote that dies is replaced when its generation next needs a
// worker, not at once: a TERM sent to the whole process group (systemd's
// stop) kills it while the master stops.
//
// Waiting for the import blocks the arbiter (spawn returns a pid), for
// at most zygoteLoadTimeout; the running workers serve meanwhile.

// zygotes is the spawn and reap side of the arbiter's effects with
// --preload. Owned by the arbiter goroutine, like every effect.
type zygotes struct {
	p      *process
	sets   *listenerSets // each generation's listeners
	pass   *passPair     // every worker's, after the listeners; nil: none
	events chan<- event
	log    zerolog.Logger
	kill   func(pid int, sig syscall.Signal) error
	all    []*zygote // started and not reaped yet, oldest first
	// stopping: a stop signal came while an import was awaited; no
	// zygote starts after it (the arbiter's loop takes the signal next).
	stopping bool
	// stopSigs gets TERM, INT and QUIT from the start, as the loop's
	// channel does, so that one sent just before an import's wait began
	// still ends it (await).
	stopSigs chan os.Signal
}

// zygote is one zygote process.
type zygote struct {
	gen     int
	cfg     *config.Config // its generation's; never nil
	pid     int
	conn    *net.UnixConn    // the SOCK_SEQPACKET socket to it
	started time.Time        // when the process was started
	loaded  bool             // it imported the app and forks serving workers
	failed  bool             // it could not; its workers exit at once
	stopped bool             // sent TERM: not to be used or replaced
	workers map[int]struct{} // pids it forked that were not reaped yet
}

const (
	// zygoteLoadTimeout bounds the wait for a zygote's import, unless
	// --timeout is longer.
	zygoteLoadTimeout = 30 * time.Second
	// zygoteForkTimeout bounds the wait for one fork.
	zygoteForkTimeout = 10 * time.Second
	// maxZygoteMessage holds the longest message (a traceback is cut at
	// 60000 bytes by the zygote).
	maxZygoteMessage = 64 << 10
)

func newZygotes(p *process, sets *listenerSets, events chan<- event, log zerolog.Logger) *zygotes {
	zs := &zygotes{p: p, sets: sets, events: events, log: log, kill: unix.Kill, stopSigs: make(chan os.Signal, 1)}
	signal.Notify(zs.stopSigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT) // the loop's channel gets them too
	return zs
}

// spawn starts worker id of generation gen: forked by the generation's
// zygote with --preload, re-executed otherwise.
func (zs *zygotes) spawn(id, gen int, cfg *config.Config, attrs json.RawMessage) (int, error) {
	if !cfg.Preload {
		return spawnWorker(zs.p, zs.sets.forGen(gen), zs.pass, zs.events, id, cfg, attrs)
	}
	pid, err := zs.forkFor(id, gen, cfg, attrs)
	if errors.Is(err, errZygoteEnded) {
		// It died and its exit is not reaped yet: a new one forks.
		pid, err = zs.forkFor(id, gen, cfg, attrs)
	}
	if err != nil {
		return 0, err
	}
	zs.tidy()
	return pid, nil
}

// forkFor forks worker id from generation gen's zygote, started first
// if there is none.
func (zs *zygotes) forkFor(id, gen int, cfg *config.Config, attrs json.RawMessage) (int, error) {
	if zs.stopping {
		return 0, errStopDuringImport
	}
	z := zs.forGen(gen)
	if z == nil {
		var err error
		if z, err = zs.start(gen, cfg); err != nil {
			return 0, err
		}
	}
	if !z.loaded && !z.failed {
		if err := zs.await(z); errors.Is(err, errStopDuringImport) {
			zs.stop(z, syscall.SIGKILL, "the server stops")
			return 0, err
		} else if err != nil {
			zs.stop(z, syscall.SIGKILL, "it did not load the app")
			return 0, err
		}
	}
	pid, err := zs.fork(z, id, cfg, attrs)
	if err != nil {
		zs.stop(z, syscall.SIGKILL, "it could not fork a worker")
		return 0, err
	}
	z.workers[pid] = struct{}{}
	return pid, nil
}

// forGen returns the zygote that forks generation gen's workers, or nil.
func (zs *zygotes) forGen(gen int) *zygote {
	for i := len(zs.all) - 1; i >= 0; i-- {
		if z := zs.all[i]; z.gen == gen && !z.stopped {
			return z
		}
	}
	return nil
}

// start starts a zygote for generation gen without waiting for it:
// boot message on handoff.ConfigFD, its socket at ZygoteSocketFD, the
// listeners (for their ownership) from FirstListenerFD.
func (zs *zygotes) start(gen int, cfg *config.Config) (*zygote, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("zygote socket: %w", err)
	}
	mine, theirs := os.NewFile(uintptr(pair[0]), "zygote"), os.NewFile(uintptr(pair[1]), "zygote")
	defer theirs.Close()
	c, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		return nil, fmt.Errorf("zygote socket: %w", err)
	}
	conn := c.(*net.UnixConn)
	bootR, bootW, err := os.Pipe()
	if err != nil {
		conn.Close()
		return nil, err
	}
	defer bootR.Close()
	files := []*os.File{bootR, theirs} // handoff.ConfigFD, handoff.ZygoteSocketFD
	ls := zs.sets.forGen(gen)
	for _, l := range ls {
		files = append(files, l.file)
	}
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{zs.p.exe, handoff.ZygoteCommand},
		Env:         childEnviron(zs.p.environ),
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		ExtraFiles:  files,
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM},
	}
	if err := cmd.Start(); err != nil {
		conn.Close()
		bootW.Close()
		return nil, fmt.Errorf("cannot start the zygote: %w", err)
	}
	z := &zygote{gen: gen, cfg: cfg, pid: cmd.Process.Pid, conn: conn, started: time.Now(),
		workers: map[int]struct{}{}}
	cmd.Process.Release() // reaped with wait4, through zygotes.reap
	writeBoot(bootW, &handoff.Boot{Listeners: len(ls), PassSockets: zs.pass != nil, Config: cfg})
	zs.all = append(zs.all, z)
	zs.log.Info().Int("zygote_pid", z.pid).Int("generation", gen).Msg("zygote started")
	return z, nil
}

// writeBoot writes a boot message without blocking the arbiter on the
// reader, and closes w.
func writeBoot(w *os.File, boot *handoff.Boot) {
	go func() {
		json.NewEncoder(w).Encode(boot)
		w.Close()
	}()
}

// errZygoteEnded: the zygote closed its socket before answering.
var errZygoteEnded = errors.New("master: the zygote ended")

// errStopDuringImport: TERM, INT or QUIT came while a zygote imported the
// app.
var errStopDuringImport = errors.New("master: stopping while the app was being imported")

// await reads the zygote's report of its import: warnings, then loaded
// or failed. A stop signal ends the wait at once (errStopDuringImport):
// the arbiter's loop, which takes signals, waits here, and an import may
// take long (Gunicorn stops at once too).
func (zs *zygotes) await(z *zygote) error {
	z.conn.SetReadDeadline(time.Now().Add(max(z.cfg.Timeout, zygoteLoadTimeout)))
	done, stopped := make(chan struct{}), make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-zs.stopSigs:
			close(stopped)
			z.conn.SetReadDeadline(time.Now()) // ends the Read below
		case <-done:
		}
	}()
	buf := make([]byte, maxZygoteMessage)
	for {
		n, err := z.conn.Read(buf)
		select {
		case <-stopped:
			zs.stopping = true
			return errStopDuringImport
		default:
		}
		if err != nil {
			return fmt.Errorf("zygote %d, before it loaded the app: %w", z.pid, errOrEnded(err))
		}
		msg := string(buf[:n])
		word, rest, _ := strings.Cut(msg, " ")
		head, text, _ := strings.Cut(msg, "\n")
		switch {
		case msg == handoff.ZygoteLoaded:
			z.loaded = true
			zs.log.Info().Int("zygote_pid", z.pid).Str("app", z.cfg.App).
				Dur("load", time.Since(z.started)).Msg("zygote loaded the app")
			return nil
		case word == handoff.ZygoteFailed:
			z.failed = true
			zs.logFailure(z, strings.TrimPrefix(head, handoff.ZygoteFailed+" "), text)
			return nil
		case word == handoff.ZygoteSignal:
			sig, _ := strconv.Atoi(rest)
			zs.log.Warn().Int("signal", sig).Int("zygote_pid", z.pid).
				Msg("the app installed a handler for a signal gowsgi needs; it was restored")
		case word == handoff.ZygoteLog:
			number, logger, _ := strings.Cut(strings.TrimPrefix(head, handoff.ZygoteLog+" "), " ")
			level, _ := strconv.Atoi(number)
			zs.log.WithLevel(errorlog.PythonLevelNumber(level)).Str("logger", logger).Int("zygote_pid", z.pid).Msg(text)
		case head == handoff.ZygoteThreads:
			zs.log.Warn().Strs("threads", strings.Split(text, "\n")).Int("zygote_pid", z.pid).
				Msg("the app started threads while it was imported; the forked workers do not have them")
		}
	}
}

// logFailure logs a zygote's "failed STATUS\nTEXT" (handoff.ZygoteFailed).
func (zs *zygotes) logFailure(z *zygote, status, text string) {
	lg := zs.log.Error().Int("zygote_pid", z.pid).Str("app", z.cfg.App)
	if _, what, _ := strings.Cut(status, " "); what == "app" {
		// The traceback is the message, as a worker logs it.
		lg.Msg("failed to load the application:\n" + text)
		return
	}
	lg.Msg("the zygote cannot start: " + text)
}

func errOrEnded(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("no answer in time: %w", err)
	}
	if errors.Is(err, io.EOF) {
		return errZygoteEnded
	}
	return err
}

// fork asks z for worker id: its boot pipe, control pipe and the
// listeners travel with the request, and the worker's control lines
// become events as a re-executed worker's do.
func (zs *zygotes) fork(z *zygote, id int, cfg *config.Config, attrs json.RawMessage) (int, error) {
	bootR, bootW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		bootR.Close()
		bootW.Close()
		return 0, err
	}
	fds := []int{int(bootR.Fd()), int(ctlW.Fd())} // handoff.ConfigFD, handoff.ControlFD
	ls := zs.sets.forGen(z.gen)
	for _, l := range ls {
		fds = append(fds, int(l.file.Fd()))
	}
	for _, f := range zs.pass.files() {
		fds = append(fds, int(f.Fd()))
	}
	_, _, err = z.conn.WriteMsgUnix([]byte(handoff.ZygoteSpawn), unix.UnixRights(fds...), nil)
	bootR.Close() // the zygote holds its own copies now
	ctlW.Close()
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		err = errZygoteEnded
	}
	var pid int
	if err == nil {
		pid, err = zs.forked(z)
	}
	if err != nil {
		bootW.Close()
		ctlR.Close()
		return 0, fmt.Errorf("zygote %d, forking a worker: %w", z.pid, err)
	}
	writeBoot(bootW, &handoff.Boot{WorkerID: id, Listeners: len(ls), PassSockets: zs.pass != nil, Config: cfg, HookAttrs: attrs})
	go readControl(pid, ctlR, zs.events)
	return pid, nil
}

// forked reads the zygote's answer to a spawn request.
func (zs *zygotes) forked(z *zygote) (int, error) {
	z.conn.SetReadDeadline(time.Now().Add(zygoteForkTimeout))
	buf := make([]byte, 512)
	n, err := z.conn.Read(buf)
	if err != nil {
		return 0, errOrEnded(err)
	}
	word, rest, _ := strings.Cut(string(buf[:n]), " ")
	switch word {
	case handoff.ZygotePID:
		if pid, err := strconv.Atoi(rest); err == nil && pid > 0 {
			return pid, nil
		}
	case handoff.ZygoteError:
		return 0, errors.New(rest)
	}
	return 0, fmt.Errorf("unexpected answer %q", buf[:n])
}

// reap takes the zygotes' own exits out of exits (the arbiter knows
// only workers) and forgets the workers that exited.
func (zs *zygotes) reap(exits []exit) []exit {
	var out []exit
	var dead []*zygote
	for _, e := range exits {
		if z := zs.byPID(e.pid); z != nil {
			zs.logExit(z, e)
			dead = append(dead, z)
			continue
		}
		for _, z := range zs.all {
			delete(z.workers, e.pid)
		}
		out = append(out, e)
	}
	for _, z := range dead {
		zs.remove(z)
	}
	zs.tidy()
	return out
}

func (zs *zygotes) byPID(pid int) *zygote {
	for _, z := range zs.all {
		if z.pid == pid {
			return z
		}
	}
	return nil
}

func (zs *zygotes) logExit(z *zygote, e exit) {
	lg := zs.log.Info()
	if !z.stopped {
		lg = zs.log.Warn()
	}
	if e.status.Signaled() {
		lg = lg.Str("signal", e.status.Signal().String())
	} else {
		lg = lg.Int("exit_code", e.status.ExitStatus())
	}
	lg.Int("zygote_pid", z.pid).Int("generation", z.gen).Msg("zygote exited")

}

func (zs *zygotes) remove(z *zygote) {
	z.conn.Close()
	for i, y := range zs.all {
		if y == z {
			zs.all = append(zs.all[:i], zs.all[i+1:]...)
			return
		}
	}
}

// tidy stops the zygotes nobody needs: one without workers that failed
// (a later spawn tries the import again) or whose generation has been
// succeeded by a loaded one.
func (zs *zygotes) tidy() {
	newest := 0
	for _, z := range zs.all {
		if z.loaded && !z.stopped {
			newest = max(newest, z.gen)
		}
	}
	for _, z := range zs.all {
		if z.stopped || len(z.workers) > 0 {
			continue
		}
		switch {
		case z.failed:
			zs.stop(z, syscall.SIGTERM, "it failed and has no worker left")
		case z.gen < newest:
			zs.stop(z, syscall.SIGTERM, "a newer generation has its own")
		}
	}
}

// end stops every zygote left and reaps it, waiting for timeout at most
// (in all), when the master exits: a zygote it left behind would
// outlive it, as a zombie under init once it exits.
func (zs *zygotes) end(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for _, z := range zs.all {
		zs.kill(z.pid, syscall.SIGTERM)
		z.conn.Close()
	}
	for _, z := range zs.all {
		awaitChild(z.pid, time.Until(deadline)) // effects.go
	}
	zs.all = nil
}

// stop signals z and makes sure it is not used again.
func (zs *zygotes) stop(z *zygote, sig syscall.Signal, why string) {
	z.stopped = true
	zs.kill(z.pid, sig)
	zs.log.Info().Int("zygote_pid", z.pid).Int("generation", z.gen).Str("reason", why).Msg("stopping zygote")
}
