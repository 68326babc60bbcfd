/*
 * hooks.c: Gunicorn's worker-side server hooks (post_fork, pre_request,
 * ...). The Python side is the _gowsgi_hooks module, whose source the
 * worker passes in (worker/hooks.py); this file creates it, gives it the
 * function that logs into the worker's error log, and calls its hooks.
 *
 * Each function takes the GIL with the calling OS thread's cached thread
 * state unless held says the caller holds it already (the main thread
 * between gw_initialize and gw_release_main).
 */
#include "pyshim.h"
#include "internal.h"
#include <string.h>

/* Implemented in Go (hooks.go): one message a hook logged, without the
 * GIL. level is "debug", "info", "warning", "error" or "critical". */
extern void gowsgiHookLog(char *level, char *text, size_t n);

static PyObject *hooks_mod; /* strong reference, lives for the process */

/* emit(level, text): the Log methods of worker.log end here. */
static PyObject *hook_emit(PyObject *self, PyObject *args)
{
	const char *level, *text;
	Py_ssize_t n;

	(void)self;
	if (!PyArg_ParseTuple(args, "ss#", &level, &text, &n))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	gowsgiHookLog((char *)level, (char *)text, (size_t)n);
	Py_END_ALLOW_THREADS
	Py_RETURN_NONE;
}

static PyMethodDef emit_def = {"_emit", hook_emit, METH_VARARGS, "log into gowsgi's error log"};

static char *dup_str(const char *s)
{
	size_t n = strlen(s);
	char *p = malloc(n + 1);
	if (p != NULL)
		memcpy(p, s, n + 1);
	return p;
}

/* gw_remember_source puts src in linecache under name, so that a
 * traceback through it shows its lines: the source is in no file. */
int gw_remember_source(const char *name, const char *src)
{
	PyObject *linecache = PyImport_ImportModule("linecache"), *cache = NULL, *lines = NULL;
	PyObject *text = NULL, *entry = NULL;
	int rc = -1;

	if (linecache == NULL || (cache = PyObject_GetAttrString(linecache, "cache")) == NULL ||
	    (text = PyUnicode_FromString(src)) == NULL ||
	    (lines = PyObject_CallMethod(text, "splitlines", "i", 1)) == NULL)
		goto out;
	/* (size, mtime, lines, fullname); mtime None: checkcache keeps it */
	entry = Py_BuildValue("(nOOs)", PyUnicode_GET_LENGTH(text), Py_None, lines, name);
	if (entry != NULL && PyObject_SetItem(cache, PyTuple_GET_ITEM(entry, 3), entry) == 0)
		rc = 0;
out:
	Py_XDECREF(entry);
	Py_XDECREF(lines);
	Py_XDECREF(text);
	Py_XDECREF(cache);
	Py_XDECREF(linecache);
	return rc;
}

/* gw_run_named runs source in dict, compiled as the file name, whose
 * lines tracebacks then show (gw_remember_source): compiled as
 * "<string>", as PyRun_String does, frames of every embedded module
 * shared one name, and CPython 3.13, which keeps such sources in
 * linecache, showed lines of whichever ran last. */
int gw_run_named(const char *name, const char *source, PyObject *dict)
{
	PyObject *code = Py_CompileString(source, name, Py_file_input), *res;

	if (code == NULL)
		return -1;
	res = PyEval_EvalCode(code, dict, dict);
	Py_DECREF(code);
	if (res == NULL)
		return -1;
	Py_DECREF(res);
	return gw_remember_source(name, source);
}

PyObject *gw_module_from_source(const char *name, const char *source)
{
	PyObject *mod = PyModule_New(name), *dict, *file;
	const char *fname;
	int rc;

	if (mod == NULL)
		return NULL;
	dict = PyModule_GetDict(mod); /* borrowed */
	if (PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins()) < 0 ||
	    PyDict_SetItemString(PyImport_GetModuleDict(), name, mod) < 0)
		goto error;
	if ((file = PyUnicode_FromFormat("<gowsgi>/%s.py", name)) == NULL)
		goto error;
	fname = PyUnicode_AsUTF8(file);
	rc = fname != NULL ? gw_run_named(fname, source, dict) : -1;
	Py_DECREF(file);
	if (rc < 0)
		goto error;
	return mod;
error:
	Py_DECREF(mod);
	return NULL;
}

int gw_call_method(PyObject *obj, const char *name, char **err)
{
	PyObject *res;
	int rc = 0;

	PyEval_RestoreThread(gw_thread_state());
	res = PyObject_CallMethod(obj, name, NULL);
	if (res == NULL) {
		size_t n;
		*err = gw_format_exception(&n);
		rc = -1;
	}
	Py_XDECREF(res);
	PyEval_SaveThread();
	return rc;
}

PyObject *gw_module_call(const char *name, const char *source, const char *function, const char *const *args,
			 int nargs, PyMethodDef *emit_def, PyObject **mod)
{
	PyObject *m, *f = NULL, *call = NULL, *res = NULL;

	m = gw_module_from_source(name, source);
	if (m == NULL)
		return NULL;
	f = PyObject_GetAttrString(m, function);
	call = f ? PyTuple_New(nargs + 1) : NULL;
	if (call == NULL)
		goto out;
	for (int i = 0; i < nargs; i++) {
		PyObject *arg = PyUnicode_FromString(args[i]);
		if (arg == NULL)
			goto out;
		PyTuple_SET_ITEM(call, i, arg); /* steals */
	}
	{
		PyObject *emit = PyCFunction_New(emit_def, NULL);
		if (emit == NULL)
			goto out;
		PyTuple_SET_ITEM(call, nargs, emit);
	}
	res = PyObject_Call(f, call, NULL);
out:
	Py_XDECREF(call);
	Py_XDECREF(f);
	if (res == NULL) {
		Py_DECREF(m);
		return NULL;
	}
	*mod = m;
	return res;
}

/*
 * gw_hooks_load runs source as the module _gowsgi_hooks, then its
 * load(spec, settings_json, emit), which executes the config file spec
 * and keeps its hooks. On success *names is a malloc'd comma-separated
 * list of the hooks found. Returns 0, or -1 with *err (malloc'd).
 */
int gw_hooks_load(const char *source, const char *spec, const char *settings_json, int held,
		  char **names, char **err)
{
	const char *args[] = {spec, settings_json};
	PyObject *mod = NULL, *res, *sep = NULL, *joined = NULL;
	int rc = -1;

	if (!held)
		PyEval_RestoreThread(gw_thread_state());
	res = gw_module_call("_gowsgi_hooks", source, "load", args, 2, &emit_def, &mod);
	if (res == NULL)
		goto error;
	sep = PyUnicode_FromString(",");
	if (sep == NULL)
		goto error;
	joined = PyUnicode_Join(sep, res);
	if (joined == NULL)
		goto error;
	*names = dup_str(PyUnicode_AsUTF8(joined) ? PyUnicode_AsUTF8(joined) : "");
	hooks_mod = mod;
	mod = NULL;
	rc = 0;
	goto done;
error:
	{
		size_t n;
		*err = gw_format_exception(&n);
	}
done:
	Py_XDECREF(joined);
	Py_XDECREF(sep);
	Py_XDECREF(res);
	Py_XDECREF(mod);
	if (!held)
		PyEval_SaveThread();
	return rc;
}

/*
 * gw_hook_call runs _gowsgi_hooks.call(name, args[, environ]): args is
 * JSON; env, when not NULL, is an environ in the Go encoding
 * (environ.c), given to post_request. What call() returns, None or a
 * str (pre_request's changes to req, as JSON), is *out: NULL, or a
 * malloc'd copy of its UTF-8 of *out_len bytes. Returns 0, or -1 with
 * *err set to the hook's traceback (malloc'd) and *out NULL.
 */
int gw_hook_call(const char *name, const char *args, size_t args_len, const char *env, size_t env_len,
		 int held, char **out, size_t *out_len, char **err)
{
	PyObject *jargs = NULL, *environ = NULL, *res = NULL;
	int rc = -1;

	*out = NULL;
	*out_len = 0;

	if (!held)
		PyEval_RestoreThread(gw_thread_state());
	if (hooks_mod == NULL) {
		PyErr_SetString(PyExc_RuntimeError, "gowsgi: no hooks loaded");
		goto error;
	}
	jargs = PyUnicode_DecodeUTF8(args, (Py_ssize_t)args_len, "surrogateescape");
	if (jargs == NULL)
		goto error;
	if (env != NULL) {
		environ = gw_build_environ(env, env_len, Py_None, Py_None);
		if (environ == NULL)
			goto error;
	}
	res = PyObject_CallMethod(hooks_mod, "call", "sOO", name, jargs, environ ? environ : Py_None);
	if (res == NULL)
		goto error;
	if (PyUnicode_Check(res)) {
		Py_ssize_t n;
		const char *s = PyUnicode_AsUTF8AndSize(res, &n); /* borrowed from res */

		if (s == NULL)
			goto error;
		*out = malloc((size_t)n + 1);
		if (*out == NULL) {
			PyErr_NoMemory();
			goto error;
		}
		memcpy(*out, s, (size_t)n + 1);
		*out_len = (size_t)n;
	} else if (res != Py_None) {
		PyErr_Format(PyExc_TypeError, "gowsgi: _gowsgi_hooks.call returned %.100s", Py_TYPE(res)->tp_name);
		goto error;
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
	Py_XDECREF(environ);
	Py_XDECREF(jargs);
	if (!held)
		PyEval_SaveThread();
	return rc;
}
