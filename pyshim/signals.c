/*
 * signals.c: the signals Go handles in a worker, kept Go's while Python
 * code would take them.
 *
 * signal.signal(SIGTERM, handler) in an app or a hook installs CPython's
 * C handler with sigaction, so Go no longer sees the master's TERM and
 * the worker never stops gracefully. gowsgi records Go's handlers once
 * (gw_signals_capture), puts them back whenever Python code may have run
 * (gw_signals_reclaim), and runs the Python handler an app installed for
 * a stop signal when that signal comes (gw_signals_run_python), as the
 * app's handler would have run under Gunicorn, where the worker's own
 * handler is Python too.
 */
#include "pyshim.h"
#include "internal.h"
#include <signal.h>
#include <string.h>

/* The master's graceful stop of a worker (SIGRTMIN+6 in glibc's
 * numbering): handoff.GracefulStopSignal, which pyshim.GracefulStopSignal
 * mirrors (worker's TestGracefulStopSignalIsGuarded checks they agree). */
#define GW_GRACEFUL_STOP_SIGNAL 40

/* Signals Go relies on in a worker. */
static const int guarded_signals[] = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT, SIGUSR1, SIGUSR2,
				      SIGCHLD, SIGURG,  SIGPROF, SIGPIPE, GW_GRACEFUL_STOP_SIGNAL};

int gw_graceful_stop_signal(void) { return GW_GRACEFUL_STOP_SIGNAL; }
#define NGUARDED (sizeof guarded_signals / sizeof guarded_signals[0])

static struct sigaction go_actions[NGUARDED];
static int captured;

/* gw_signals_capture records the handlers installed now as Go's. Call it
 * once the Go runtime has installed them and before Python code runs. */
void gw_signals_capture(void)
{
	for (size_t i = 0; i < NGUARDED; i++)
		sigaction(guarded_signals[i], NULL, &go_actions[i]);
	captured = 1;
}

/*
 * keep_child_watcher keeps a SIGCHLD handler an event loop installed to
 * learn that its subprocesses ended (uvloop's, libuv's child watcher):
 * Go's worker does nothing with SIGCHLD, and put back in its place,
 * asyncio.create_subprocess_exec(...).communicate() never returned under
 * uvloop. The handler is made to run on the signal stack Go gives each
 * of its threads (SA_ONSTACK), without which a SIGCHLD landing on a Go
 * thread could crash the worker (Go's cgo rules). SIG_DFL is kept too:
 * libuv puts it back when its last child is gone, and installs its
 * handler again for the next. SIG_IGN is not (children would be reaped
 * by the kernel, unseen): Go's handler goes back, as for the others.
 */
static int keep_child_watcher(int sig, struct sigaction *now)
{
	if (sig != SIGCHLD || now->sa_handler == SIG_IGN)
		return 0;
	if (now->sa_handler != SIG_DFL && !(now->sa_flags & SA_ONSTACK)) {
		now->sa_flags |= SA_ONSTACK;
		sigaction(SIGCHLD, now, NULL);
	}
	return 1;
}

/* gw_signals_reclaim puts Go's handler back on every guarded signal whose
 * handler changed since gw_signals_capture (but an event loop's SIGCHLD
 * handler: keep_child_watcher), storing the numbers of those in
 * stolen[0:*nstolen] (room for 16). Any thread, GIL or not. */
void gw_signals_reclaim(int *stolen, int *nstolen)
{
	struct sigaction now;

	*nstolen = 0;
	if (!captured)
		return;
	for (size_t i = 0; i < NGUARDED; i++) {
		sigaction(guarded_signals[i], NULL, &now);
		if (now.sa_handler != go_actions[i].sa_handler) {
			if (keep_child_watcher(guarded_signals[i], &now))
				continue;
			sigaction(guarded_signals[i], &go_actions[i], NULL);
			if (*nstolen < 16)
				stolen[(*nstolen)++] = guarded_signals[i];
		}
	}
}

/*
 * gw_signals_run_python calls the Python handler that Python's signal
 * module holds for sig, when it is a function of the app's (not SIG_DFL,
 * SIG_IGN, None or gowsgi's own stop handler), with (sig, None), taking
 * the GIL. *ran says whether there was one. SystemExit and
 * KeyboardInterrupt, which a handler raises to stop the process, are no
 * error here: the worker is stopping. Returns 0, or -1 with *err
 * (malloc'd traceback).
 */
int gw_signals_run_python(int sig, int *ran, char **err)
{
	PyObject *res;
	int rc = 0;

	*ran = 0;
	PyEval_RestoreThread(gw_thread_state());
	res = PyObject_CallMethod(gw_bootstrap, "run_signal_handler", "i", sig);
	if (res == NULL) {
		if (PyErr_ExceptionMatches(PyExc_SystemExit) || PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
			PyErr_Clear();
			*ran = 1;
		} else {
			size_t n;
			*err = gw_format_exception(&n);
			*ran = 1;
			rc = -1;
		}
	} else {
		*ran = PyObject_IsTrue(res) == 1;
		Py_DECREF(res);
	}
	PyEval_SaveThread();
	return rc;
}

/*
 * gw_register_fork_hooks has a process the app forks take plain Python's
 * signal handlers (bootstrap.register_fork_hooks). In a worker only,
 * never the --preload zygote. GIL held. Returns 0, or -1 with *err.
 */
int gw_register_fork_hooks(char **err)
{
	PyObject *res = PyObject_CallMethod(gw_bootstrap, "register_fork_hooks", NULL);
	size_t n;

	if (res == NULL) {
		*err = gw_format_exception(&n);
		return -1;
	}
	Py_DECREF(res);
	return 0;
}

/*
 * gw_signals_adopt_python makes gowsgi's stop handler the Python-level
 * handler of TERM, INT and QUIT (bootstrap.adopt_stop_signals), as
 * Gunicorn's worker has its own there, so an app that chains to the
 * handler it replaces (prev = signal.getsignal(SIGTERM)) finds a
 * function; then gives the signals back to Go. GIL held, on the main
 * thread, after gw_signals_capture. Returns 0, or -1 with *err.
 */
int gw_signals_adopt_python(char **err)
{
	PyObject *res = PyObject_CallMethod(gw_bootstrap, "adopt_stop_signals", NULL);
	int stolen[16], n;

	gw_signals_reclaim(stolen, &n);
	if (res == NULL) {
		size_t m;
		*err = gw_format_exception(&m);
		return -1;
	}
	Py_DECREF(res);
	return 0;
}
