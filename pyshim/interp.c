/*
 * interp.c: interpreter life cycle: PyConfig initialisation, the
 * per-OS-thread thread state cache, loading the app and formatting
 * tracebacks.
 */
#include "pyshim.h"
#include "internal.h"
#include <stdio.h>
#include <string.h>

PyObject *gw_bootstrap; /* strong reference, lives for the process */

static PyInterpreterState *gw_interp;
/* One thread state per OS thread, created on first use: a thread state
 * must stay on the thread that created it, or PyGILState_Ensure in C
 * extensions would find none and deadlock. */
static __thread PyThreadState *gw_tstate;

PyThreadState *gw_thread_state(void)
{
	if (gw_tstate == NULL)
		gw_tstate = PyThreadState_New(gw_interp);
	return gw_tstate;
}

static char *dup_text(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

static char *status_text(PyStatus st)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s%s%s", st.func ? st.func : "",
		 st.func ? ": " : "", st.err_msg ? st.err_msg : "unknown error");
	return dup_text(buf, strlen(buf));
}

/*
 * gw_format_exception returns the current Python exception and its
 * traceback as malloc'd UTF-8 text and clears it. GIL held.
 */
char *gw_format_exception(size_t *len)
{
	PyObject *exc = NULL, *text = NULL;
	char *out = NULL;
	PyObject *type, *value, *tb;

	PyErr_Fetch(&type, &value, &tb);
	if (type == NULL) {
		*len = 0;
		return NULL;
	}
	PyErr_NormalizeException(&type, &value, &tb);
	if (tb != NULL && value != NULL)
		PyException_SetTraceback(value, tb);
	if (gw_bootstrap != NULL && value != NULL)
		text = PyObject_CallMethod(gw_bootstrap, "format_exception", "O", value);
	if (text == NULL) {
		PyErr_Clear();
		text = value ? PyObject_Str(value) : PyObject_Str(type);
	}
	if (text != NULL) {
		Py_ssize_t n;
		const char *s = PyUnicode_AsUTF8AndSize(text, &n);
		if (s != NULL) {
			out = dup_text(s, (size_t)n);
			*len = (size_t)n;
		}
	}
	PyErr_Clear();
	Py_XDECREF(exc);
	Py_XDECREF(text);
	Py_XDECREF(type);
	Py_XDECREF(value);
	Py_XDECREF(tb);
	return out;
}

/*
 * gw_initialize starts CPython on the calling (locked) OS thread and
 * leaves it holding the GIL. Go owns every signal, so Python must not
 * install handlers. bootstrap is the source of the _gowsgi module.
 * Returns 0, or -1 with *err set (malloc'd).
 */
int gw_initialize(const char *program, const char *executable, const char *bootstrap,
		  char **err)
{
	PyConfig config;
	PyStatus st;
	PyObject *mod = NULL, *dict, *modules;
	char *argv[1] = {(char *)program};

	PyConfig_InitPythonConfig(&config);
	config.install_signal_handlers = 0;
	config.parse_argv = 0;
	st = PyConfig_SetBytesString(&config, &config.program_name, program);
	if (!PyStatus_Exception(st) && executable != NULL && executable[0])
		st = PyConfig_SetBytesString(&config, &config.executable, executable);
	if (!PyStatus_Exception(st))
		st = PyConfig_SetBytesArgv(&config, 1, argv);
	if (!PyStatus_Exception(st))
		st = Py_InitializeFromConfig(&config);
	PyConfig_Clear(&config);
	if (PyStatus_Exception(st)) {
		*err = status_text(st);
		return -1;
	}
	gw_interp = PyInterpreterState_Get();
	gw_tstate = PyThreadState_Get();

	mod = PyModule_New("_gowsgi");
	if (mod == NULL)
		goto error;
	dict = PyModule_GetDict(mod); /* borrowed */
	if (PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins()) < 0)
		goto error;
	if (gw_run_named("<gowsgi>/bootstrap.py", bootstrap, dict) < 0)
		goto error;
	modules = PyImport_GetModuleDict(); /* borrowed */
	if (PyDict_SetItemString(modules, "_gowsgi", mod) < 0)
		goto error;
	gw_bootstrap = mod;
	return gw_exchange_init_types();

error:
	{
		size_t n;
		*err = gw_format_exception(&n);
	}
	Py_XDECREF(mod);
	return -1;
}

int gw_app_is_asgi;
int gw_asgi_path_without_root;

/* bool_attr is the truth of obj.name: 1, 0, or -1 with an exception.
 * GIL held. */
static int bool_attr(PyObject *obj, const char *name)
{
	PyObject *v = PyObject_GetAttrString(obj, name);
	int r;

	if (v == NULL)
		return -1;
	r = PyObject_IsTrue(v);
	Py_DECREF(v);
	return r;
}

/* raised_app_load_error reports whether the exception set is
 * bootstrap.AppLoadError, and leaves it set. */
static int raised_app_load_error(void)
{
	PyObject *type, *value, *tb, *cls;
	int r = 0;

	PyErr_Fetch(&type, &value, &tb);
	cls = PyObject_GetAttrString(gw_bootstrap, "AppLoadError");
	if (cls == NULL)
		PyErr_Clear();
	else
		r = type != NULL && PyErr_GivenExceptionMatches(type, cls);
	Py_XDECREF(cls);
	PyErr_Restore(type, value, tb);
	return r;
}

/*
 * gw_load_app imports the app named by spec with paths prepended to
 * sys.path and keeps it in _gowsgi.app; asgi says which worker class
 * will call it (GW_APP_WSGI, GW_APP_ASGI), and an app of the other kind
 * is refused, or that none was named (GW_APP_DETECT): an async app is
 * then ASGI. gw_app_is_asgi says which it is once loaded. Go's signal
 * handlers are restored after the import (signals.c); the numbers of the
 * signals the app tried to take are stored in stolen[0:*nstolen] (room
 * for 16).
 * GIL held (main thread). Returns 0, or GW_LOAD_RAISED or GW_LOAD_NO_APP
 * with *err (traceback) set.
 */
int gw_load_app(const char *spec, const char *const *paths, int npaths, int multithread, int asgi,
		int *stolen, int *nstolen, char **err)
{
	PyObject *list = NULL, *res = NULL;
	size_t n;
	int rc = -1, served_as_asgi;

	*nstolen = 0;

	list = PyList_New(0);
	if (list == NULL)
		goto out;
	for (int k = 0; k < npaths; k++) {
		PyObject *p = PyUnicode_DecodeFSDefault(paths[k]);
		if (p == NULL || PyList_Append(list, p) < 0) {
			Py_XDECREF(p);
			goto out;
		}
		Py_DECREF(p);
	}
	res = PyObject_CallMethod(gw_bootstrap, "load_app", "sOii", spec, list, multithread, asgi);
	if (res != NULL && (served_as_asgi = bool_attr(gw_bootstrap, "serves_asgi")) >= 0 &&
	    (gw_asgi_path_without_root = bool_attr(gw_bootstrap, "path_without_root")) >= 0) {
		gw_app_is_asgi = served_as_asgi;
		rc = gw_exchange_bind();
	}
out:
	if (rc < 0) {
		if (raised_app_load_error())
			rc = GW_LOAD_NO_APP;
		*err = gw_format_exception(&n);
	}
	gw_signals_reclaim(stolen, nstolen);
	Py_XDECREF(res);
	Py_XDECREF(list);
	return rc;
}

/* gw_prepare_import_loop has the app's import see the event loop that
 * will serve it (bootstrap.prepare_import_loop). Main thread, GIL held.
 * Returns 0, or -1 with *err (malloc'd). */
int gw_prepare_import_loop(const char *kind, int create, char **err)
{
	PyObject *res = PyObject_CallMethod(gw_bootstrap, "prepare_import_loop", "si", kind, create);
	size_t n;

	if (res == NULL) {
		*err = gw_format_exception(&n);
		return -1;
	}
	Py_DECREF(res);
	return 0;
}

/* gw_release_main releases the GIL held since gw_initialize; the main
 * thread's state stays cached for this OS thread. */
void gw_release_main(void)
{
	gw_tstate = PyEval_SaveThread();
}

/*
 * gw_run_atexit does what Python's exit does before it finalizes, as a
 * Gunicorn worker's sys.exit does it (bootstrap.run_exit), taking the
 * GIL: it waits for the app's non-daemon threads (after shutting down
 * concurrent.futures' executors), then runs the functions registered
 * with atexit (the app's, OpenTelemetry's span flush, logging.shutdown).
 * What one of them raises is printed by Python and does not stop the
 * others. Returns 0, or -1 with *err (malloc'd).
 */
int gw_run_atexit(char **err)
{
	return gw_call_method(gw_bootstrap, "run_exit", err);
}
