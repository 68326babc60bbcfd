/*
 * asyncexc.c: stopping one request that outlived --request-timeout.
 *
 * Threads and the GIL: gw_thread_ident runs on the thread of an app
 * call, with or without the GIL. gw_interrupt_thread runs on a
 * dedicated OS thread that holds no thread state of pyshim's, WITHOUT
 * the GIL; it takes the GIL with PyGILState_Ensure (a pure-Python loop
 * gives it up every switch interval) and gives it back before it
 * returns.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* gw_thread_ident is the identity CPython gives the calling OS thread
 * (threading.get_ident(), PyThreadState.thread_id). */
unsigned long gw_thread_ident(void)
{
	return (unsigned long)pthread_self();
}

/*
 * stack_of formats the Python stack of thread ident, most recent call
 * last, as traceback.format_stack does. Returns a new reference to a str,
 * or NULL with an exception set, or NULL without one when the thread
 * runs no Python code. GIL held.
 */
static PyObject *stack_of(unsigned long ident)
{
	PyObject *current, *frames = NULL, *key = NULL, *tb = NULL, *lines = NULL, *empty = NULL;
	PyObject *frame, *text = NULL;

	/* sys._current_frames() is documented API; the C function behind it
	 * (_PyThread_CurrentFrames) is private. */
	current = PySys_GetObject("_current_frames"); /* borrowed */
	if (current == NULL) {
		PyErr_SetString(PyExc_RuntimeError, "sys._current_frames is missing");
		goto error;
	}
	frames = PyObject_CallNoArgs(current);
	if (frames == NULL)
		goto error;
	key = PyLong_FromUnsignedLong(ident);
	if (key == NULL)
		goto error;
	frame = PyDict_GetItemWithError(frames, key); /* borrowed */
	if (frame == NULL)
		goto error;
	tb = PyImport_ImportModule("traceback");
	if (tb == NULL)
		goto error;
	lines = PyObject_CallMethod(tb, "format_stack", "O", frame);
	if (lines == NULL)
		goto error;
	empty = PyUnicode_FromString("");
	if (empty == NULL)
		goto error;
	text = PyUnicode_Join(empty, lines);
error:
	Py_XDECREF(frames);
	Py_XDECREF(key);
	Py_XDECREF(tb);
	Py_XDECREF(lines);
	Py_XDECREF(empty);
	return text;
}

/*
 * gw_interrupt_thread logs nothing itself. With the GIL held, so that
 * the target cannot enter or leave Python code meanwhile, it checks that
 * the call is still the one to stop: *running (written by Go without the
 * GIL, read atomically) still equals started, and thread ident is inside
 * Python code (it has a frame). Only then does it store in *stack a
 * malloc'ed UTF-8 copy of that thread's Python stack (NULL when
 * unreadable; the caller frees it) and schedule TimeoutError in it, to
 * be raised at its next bytecode. An exception left pending on a thread
 * that had returned would hit its next request instead. Returns 1 when
 * scheduled, else 0. Any OS thread that runs no app call, without the
 * GIL; takes it and gives it back.
 */
int gw_interrupt_thread(unsigned long ident, const long long *running, long long started, char **stack)
{
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *text;
	int n = 0;

	*stack = NULL;
	text = stack_of(ident);
	if (text == NULL || __atomic_load_n(running, __ATOMIC_SEQ_CST) != started)
		goto done;
	const char *utf8 = PyUnicode_AsUTF8(text);
	if (utf8 != NULL)
		*stack = strdup(utf8);
	n = PyThreadState_SetAsyncExc(ident, PyExc_TimeoutError);
done:
	Py_XDECREF(text);
	PyErr_Clear();
	PyGILState_Release(g);
	return n;
}
