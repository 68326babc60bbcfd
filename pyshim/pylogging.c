/*
 * pylogging.c: Python's logging as Gunicorn sets it up. The Python side
 * is the _gowsgi_logging module, whose source the worker passes in
 * (worker/pylogging.py); this file creates it, gives it the function
 * that writes a record into the worker's error log, and runs its setup.
 *
 * In the --preload zygote this runs before the Go runtime exists: until
 * gw_logging_to_go is called (by Init or Adopt, in Go), the records the
 * import logs go to the master (gw_logging_to_master), which writes them
 * into its error log; others (a thread the app started, after the
 * import) go to stderr as one line each.
 */
#include "pyshim.h"
#include "internal.h"
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Implemented in Go (pylogging.go): one record, without the GIL. */
extern void gowsgiPythonLog(int level, char *name, char *text, size_t n);

static int to_go;          /* set once the Go runtime runs in this process */
static PyObject *log_mod;  /* _gowsgi_logging once set up; lives for the process */

/* While the zygote imports the app, its main thread's records go to the
 * master; only that thread speaks to it then, so a record cannot land
 * in the middle of the spawn protocol. */
static int to_master;
static pthread_t importer;

void gw_logging_to_go(void)
{
	to_go = 1;
}

void gw_logging_to_master(int on)
{
	importer = pthread_self();
	to_master = on;
}

static const char *level_name(int level)
{
	return level >= 50 ? "CRITICAL" : level >= 40 ? "ERROR" : level >= 30 ? "WARNING" : level >= 20 ? "INFO" : "DEBUG";
}

/* write_all writes the n bytes at p to fd 2, as far as it can. */
static void write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(2, p, n);
		if (w <= 0)
			return;
		p += w, n -= (size_t)w;
	}
}

/* emit(levelno, name, text): gunicorn.error's handler ends here. */
static PyObject *log_emit(PyObject *self, PyObject *args)
{
	const char *name, *text;
	Py_ssize_t n;
	int level;

	(void)self;
	if (!PyArg_ParseTuple(args, "iss#", &level, &name, &text, &n))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	if (to_go) {
		gowsgiPythonLog(level, (char *)name, (char *)text, (size_t)n);
	} else if (to_master && pthread_equal(pthread_self(), importer)) {
		char head[256];
		snprintf(head, sizeof head, "log %d %s\n", level, name); /* a long name is cut */
		gw_zygote_say_text(head, text); /* text is NUL-terminated: "s#" */
	} else {
		char head[64];
		int h = snprintf(head, sizeof head, "[%d] [%s] %s: ", (int)getpid(), level_name(level), name);
		write_all(head, h > 0 ? (size_t)(h < (int)sizeof head ? h : (int)sizeof head - 1) : 0);
		write_all(text, (size_t)n);
		write_all("\n", 1);
	}
	Py_END_ALLOW_THREADS
	Py_RETURN_NONE;
}

static PyMethodDef emit_def = {"_emit", log_emit, METH_VARARGS, "write a record into gowsgi's error log"};

/*
 * gw_logging_setup runs source as the module _gowsgi_logging, then its
 * setup(settings_json, emit). Returns 0, or -1 with *err (malloc'd).
 */
int gw_logging_setup(const char *source, const char *settings_json, int held, char **err)
{
	PyObject *res;

	if (!held)
		PyEval_RestoreThread(gw_thread_state());
	res = gw_module_call("_gowsgi_logging", source, "setup", &settings_json, 1, &emit_def, &log_mod);
	if (res == NULL) {
		size_t n;
		*err = gw_format_exception(&n);
	}
	Py_XDECREF(res);
	if (!held)
		PyEval_SaveThread();
	return res != NULL ? 0 : -1;
}

/*
 * gw_logging_reopen runs _gowsgi_logging.reopen(), taking the GIL.
 * Returns 0 (also when logging was never set up), or -1 with *err
 * (malloc'd).
 */
int gw_logging_reopen(char **err)
{
	PyObject *res;
	int rc = 0;

	if (log_mod == NULL)
		return 0;
	PyEval_RestoreThread(gw_thread_state());
	res = PyObject_CallMethod(log_mod, "reopen", NULL);
	if (res == NULL) {
		size_t n;
		*err = gw_format_exception(&n);
		rc = -1;
	}
	Py_XDECREF(res);
	PyEval_SaveThread();
	return rc;
}
