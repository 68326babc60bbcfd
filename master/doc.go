// Package master is the gowsgi arbiter: it binds the listening sockets
// (or inherits them from systemd or from the master that started it
// with USR2), starts the workers by re-executing its own binary, and
// supervises them. It never runs Python.
//
// Signals, as Gunicorn documents them, and where gowsgi does better:
//
//	TERM     graceful stop: new connections are refused, those already
//	         queued and in flight are served, within --graceful-timeout;
//	         also when the workers got it too (a whole process group)
//	INT QUIT quick stop; a second one during a graceful stop hastens it
//	HUP      reload: re-read the configuration, boot a new generation of
//	         workers and stop the old one only once every new worker is
//	         ready; if the new one fails to boot, the old one serves on.
//	         A changed bind opens the new addresses first and keeps the
//	         sockets of those still listed (rebind.go)
//	TTIN     one worker more
//	TTOU     one worker less (the oldest), never fewer than one
//	USR1     reopen the log files, in the master and the workers
//	USR2     binary upgrade: start the binary on disk as a new master
//	         sharing the listeners (PIDFILE.2 until this master exits);
//	         this master serves until it gets TERM, and tells systemd the
//	         new MAINPID when it does
//	WINCH    stop the workers gracefully, keep the master (USR2 rollback);
//	         ignored in a terminal's foreground, where it means a resize
//
// Supervision: a worker reports the age of its oldest Python call over
// its control pipe; past --timeout the master logs the request, has the
// worker log every Python thread's stack (SIGABRT), starts a replacement
// and SIGKILLs it. A worker at --max-requests is replaced by a ready one
// before it stops. Dead workers are respawned, with a growing delay when
// they keep dying; workers that cannot boot stop the master with exit
// code 3 (4 when the app cannot be imported). The master is a child
// subreaper, so it also reaps orphans, as PID 1 in a container must.
//
// One goroutine (arbiter.loop) owns all supervisor state; signal
// handlers, the reaper, timers and the workers' control pipes only send
// it events. Process effects go through the osEffects seam, so the
// supervision logic is tested without real processes.
//
// It builds with CGO_ENABLED=0 and must not import pyshim, wsgi or
// worker.
package master
