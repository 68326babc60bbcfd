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
 *
 * With a logging configuration, each request's access record goes to
 * the module's access(), in batches (gw_logging_access).
 */
#include "pyshim.h"
#include "internal.h"
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
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

/* Implemented in Go (pylogging.go): one access line, without the GIL. */
extern void gowsgiAccessLine(char *text, size_t n);

/* _emit_access(text): a logger class's access lines end here. */
static PyObject *log_emit_access(PyObject *self, PyObject *arg)
{
	const char *text;
	Py_ssize_t n;

	(void)self;
	text = PyUnicode_AsUTF8AndSize(arg, &n);
	if (text == NULL)
		return NULL;
	if (to_go) { /* lines come from served requests, so only then */
		Py_BEGIN_ALLOW_THREADS
		gowsgiAccessLine((char *)text, (size_t)n);
		Py_END_ALLOW_THREADS
	}
	Py_RETURN_NONE;
}

static PyMethodDef emit_access_def = {"_emit_access", log_emit_access, METH_O,
				      "write a line into gowsgi's access log"};

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
	if (res != NULL) {
		PyObject *fn = PyCFunction_New(&emit_access_def, NULL);
		if (fn == NULL || PyObject_SetAttrString(log_mod, "_emit_access", fn) < 0)
			Py_CLEAR(res);
		Py_XDECREF(fn);
	}
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
	if (log_mod == NULL)
		return 0;
	return gw_call_method(log_mod, "reopen", err);
}

/* _gowsgi_logging.access once gw_logging_access_state found the access
 * records on; lives for the process. */
static PyObject *access_fn;

/*
 * gw_logging_access_state asks _gowsgi_logging.access_state(), taking
 * the GIL: *records is whether a logging configuration wants a record
 * per request on gunicorn.access, *kept whether Gunicorn's own access
 * handlers (the lines gowsgi writes in Go) survived it. Without Python's
 * logging set up: no records, lines kept. Returns 0, or -1 with *err
 * (malloc'd).
 */
int gw_logging_access_state(int *records, int *kept, char **err)
{
	PyObject *res = NULL;
	int rc = -1;

	*records = 0, *kept = 1;
	if (log_mod == NULL)
		return 0;
	PyEval_RestoreThread(gw_thread_state());
	res = PyObject_CallMethod(log_mod, "access_state", NULL);
	if (res == NULL || !PyArg_ParseTuple(res, "pp", records, kept))
		goto error;
	if (*records) {
		PyObject *fn = PyObject_GetAttrString(log_mod, "access");
		if (fn == NULL)
			goto error;
		Py_XSETREF(access_fn, fn); /* the module's, should logging be set up again */
	}
	rc = 0;
	goto done;
error:
	{
		size_t n;
		*err = gw_format_exception(&n);
	}
done:
	Py_XDECREF(res);
	PyEval_SaveThread();
	return rc;
}

/* atom_value returns the value of one atom entry as its kind says (see
 * package accesslog, AppendAtoms): a new reference, or NULL. */
static PyObject *atom_value(char kind, const char *v, uint32_t n)
{
	long long x = 0;

	switch (kind) {
	case 's':
		return PyUnicode_DecodeLatin1(v, n, NULL);
	case 'u':
		return PyUnicode_DecodeUTF8(v, n, "replace");
	case 'i':
		for (uint32_t i = 0; i < n; i++) {
			if (v[i] < '0' || v[i] > '9' || x > (LLONG_MAX - 9) / 10)
				goto bad;
			x = x * 10 + (v[i] - '0');
		}
		return PyLong_FromLongLong(x);
	}
bad:
	PyErr_Format(PyExc_ValueError, "gowsgi: bad access atom of kind %c", kind);
	return NULL;
}

/* atoms_dict builds the atoms dict of one record, n bytes at p, each
 * entry [kind u8][key length u16][key][value length u32][value]; a later
 * entry of a key replaces an earlier one's value, as Gunicorn's
 * dict.update does. A new reference, or NULL. */
static PyObject *atoms_dict(const char *p, size_t n)
{
	const char *end = p + n;
	PyObject *d = PyDict_New(), *key = NULL, *val = NULL;

	if (d == NULL)
		return NULL;
	while (p < end) {
		uint16_t klen;
		uint32_t vlen;
		char kind = *p++;

		if (end - p < 2)
			goto corrupt;
		memcpy(&klen, p, 2);
		p += 2;
		if ((size_t)(end - p) < (size_t)klen + 4)
			goto corrupt;
		key = PyUnicode_DecodeLatin1(p, klen, NULL);
		p += klen;
		memcpy(&vlen, p, 4);
		p += 4;
		if ((size_t)(end - p) < vlen)
			goto corrupt;
		if (key == NULL || (val = atom_value(kind, p, vlen)) == NULL || PyDict_SetItem(d, key, val) < 0)
			goto error;
		p += vlen;
		Py_CLEAR(key);
		Py_CLEAR(val);
	}
	return d;
corrupt:
	PyErr_SetString(PyExc_ValueError, "gowsgi: corrupt access record");
error:
	Py_XDECREF(key);
	Py_XDECREF(val);
	Py_DECREF(d);
	return NULL;
}

/*
 * gw_logging_access writes the access records of batch, taking the GIL
 * once for all: each record is [length u32][atoms], and each goes to
 * _gowsgi_logging.access(atoms), which logs what a handler raises. A
 * record that fails anyway (no memory) does not stop the others; the
 * first failure's traceback is returned. Returns 0, or -1 with *err
 * (malloc'd).
 */
int gw_logging_access(const char *batch, size_t n, char **err)
{
	const char *p = batch, *end = batch + n;
	int rc = 0;

	if (access_fn == NULL)
		return 0;
	PyEval_RestoreThread(gw_thread_state());
	while (end - p >= 4) {
		uint32_t len;
		PyObject *atoms, *res = NULL;

		memcpy(&len, p, 4);
		p += 4;
		if ((size_t)(end - p) < len)
			break;
		atoms = atoms_dict(p, len);
		p += len;
		if (atoms != NULL) {
			res = PyObject_CallOneArg(access_fn, atoms);
			Py_DECREF(atoms);
		}
		if (res == NULL) {
			size_t m;
			if (rc == 0)
				*err = gw_format_exception(&m);
			else
				PyErr_Clear();
			rc = -1;
		}
		Py_XDECREF(res);
	}
	PyEval_SaveThread();
	return rc;
}
