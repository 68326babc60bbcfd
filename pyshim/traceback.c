/*
 * traceback.c: the Python stack of every thread, for a worker whose app
 * call outlived --timeout and for gowsgi stack.
 *
 * How, with public API only: faulthandler.register(signal, fd,
 * all_threads=True) installs faulthandler's C handler for a spare
 * signal; the handler writes every thread's frames to fd with write(2)
 * and never takes the GIL. gw_dump_tracebacks raises that signal on
 * its own thread, so the dump works while another thread holds the GIL
 * forever (a C extension spinning, a PyDLL call blocked). Like every
 * faulthandler dump it reads the thread states without a lock: a thread
 * that runs meanwhile may make the output torn, never unsafe to write.
 * (The function faulthandler calls, _Py_DumpTracebackThreads, is private;
 * CPython 3.13 no longer exports it.)
 *
 * The signal: a real-time one that neither Go (it uses SIGURG, SIGPROF
 * and, without cgo, SIGRTMIN+1), glibc (32 and 33) nor gowsgi's handoff
 * signals use. Go installs its own handler for every signal when its
 * runtime starts, so registration must come after that: a worker forked
 * by the zygote registers in Adopt, never in the zygote itself.
 */
#include "pyshim.h"
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The memory file faulthandler writes to; -1 until registered. Written
 * once under the GIL at start-up, read by gw_dump_tracebacks. */
static int tb_fd = -1;
/* The handler faulthandler installed, to tell that nobody replaced it. */
static struct sigaction tb_action;

static int tb_signal(void)
{
	return SIGRTMAX - 3;
}

/*
 * gw_tracebacks_register registers faulthandler's dump on tb_signal()
 * into a new memory file. Returns 0, or -1 with a Python exception set.
 * GIL held; call once, after the Go runtime has installed its handlers.
 */
int gw_tracebacks_register(void)
{
	PyObject *fh = NULL, *res = NULL;
	int fd = -1, rc = -1;

	if (tb_fd >= 0)
		return 0;
	fd = memfd_create("gowsgi-tracebacks", MFD_CLOEXEC);
	if (fd < 0) {
		PyErr_SetFromErrno(PyExc_OSError);
		goto out;
	}
	fh = PyImport_ImportModule("faulthandler");
	if (fh == NULL)
		goto out;
	/* register(signum, file, all_threads, chain) */
	res = PyObject_CallMethod(fh, "register", "iiOO", tb_signal(), fd, Py_True, Py_False);
	if (res == NULL)
		goto out;
	if (sigaction(tb_signal(), NULL, &tb_action) < 0) {
		PyErr_SetFromErrno(PyExc_OSError);
		goto out;
	}
	tb_fd = fd;
	fd = -1;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	Py_XDECREF(fh);
	Py_XDECREF(res);
	return rc;
}

/*
 * gw_tracebacks_register_nogil is gw_tracebacks_register for a caller
 * without the GIL: it takes it with PyGILState_Ensure and gives it back.
 * Returns 0, or -1 with *err set (malloc'd).
 */
int gw_tracebacks_register_nogil(char **err)
{
	PyGILState_STATE g = PyGILState_Ensure();
	int rc = gw_tracebacks_register();
	size_t n;

	if (rc < 0)
		*err = gw_format_exception(&n);
	PyGILState_Release(g);
	return rc;
}

/*
 * gw_dump_tracebacks empties the memory file and has faulthandler write
 * to it, for every thread of the interpreter, "Thread 0x... (most recent
 * call first):" and its frames. It returns the memory file's descriptor
 * (owned by pyshim; read it from offset 0) or -1 with *msg set to a
 * static message. Any thread, no GIL; one call at a time.
 */
int gw_dump_tracebacks(const char **msg)
{
	struct sigaction now;
	sigset_t one, saved;

	if (!Py_IsInitialized()) {
		*msg = "the Python interpreter is not running";
		return -1;
	}
	if (tb_fd < 0) {
		*msg = "no stack dump in this process: the --preload zygote, or a worker not yet serving";
		return -1;
	}
	if (sigaction(tb_signal(), NULL, &now) < 0 || now.sa_handler != tb_action.sa_handler) {
		*msg = "the handler of the traceback signal was replaced";
		return -1;
	}
	if (ftruncate(tb_fd, 0) < 0 || lseek(tb_fd, 0, SEEK_SET) < 0) {
		*msg = "cannot empty the traceback file";
		return -1;
	}
	/* A signal a thread sends itself while it is unblocked is handled
	 * before pthread_kill returns (POSIX, raise()): the dump is complete
	 * when it does. */
	sigemptyset(&one);
	sigaddset(&one, tb_signal());
	pthread_sigmask(SIG_UNBLOCK, &one, &saved);
	int e = pthread_kill(pthread_self(), tb_signal());
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (e != 0) {
		*msg = "cannot send the traceback signal";
		return -1;
	}
	return tb_fd;
}
