/*
 * traceback.c: the Python stack of every thread, for a worker whose app
 * call outlived --timeout.
 *
 * Threads and the GIL: gw_dump_tracebacks is called from any OS thread
 * WITHOUT the GIL and never takes it, so it works while another thread
 * holds the GIL forever (a C extension spinning, a PyDLL call blocked).
 * It only reads the thread states, as faulthandler does from a signal
 * handler or its watchdog thread; a thread running meanwhile may make
 * the output torn, never unsafe to write.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Declared in CPython's internal pycore_traceback.h (3.11 and later) and
 * exported with PyAPI_FUNC; faulthandler is built on it. Returns NULL on
 * success, else a static error message. Async-signal-safe: it formats
 * with write(2) only. */
PyAPI_FUNC(const char *) _Py_DumpTracebackThreads(int fd, PyInterpreterState *interp,
						   PyThreadState *current_tstate);

/*
 * gw_dump_tracebacks writes to fd, for every thread of the main
 * interpreter, "Thread 0x... (most recent call first):" and its frames
 * as faulthandler prints them. Returns NULL on success, else a static
 * message (never to be freed). Any thread, no GIL.
 */
const char *gw_dump_tracebacks(int fd)
{
	if (!Py_IsInitialized())
		return "the Python interpreter is not running";
	return _Py_DumpTracebackThreads(fd, PyInterpreterState_Main(), NULL);
}
