/*
 * errors.c: wsgi.errors (PEP 3333 "Input and Error Streams"), a text
 * stream whose complete lines go to the worker's error log through the
 * Go function gowsgiErrorsWrite.
 *
 * Each Go Exchange owns one stream, reused across its requests, so a
 * line is logged with the context of the exchange that wrote it. A
 * partial line waits for its newline, for flush() or for the end of the
 * exchange. Writes hold the GIL, which guards the pending text; the GIL
 * is released while Go logs, except in the stream's tp_dealloc.
 */
#include "internal.h"
#include <string.h>

/* A partial line longer than this is logged without waiting further. */
#define MAX_PENDING 65536

typedef struct {
	PyObject_HEAD
	uintptr_t ctx; /* the Go sink; 0 is the process default */
	char *buf;     /* pending partial line, PyMem_Raw; may be NULL */
	size_t len, cap;
} Errors;

static PyTypeObject ErrorsType;

PyObject *gw_errors_new(uintptr_t ctx)
{
	Errors *e = PyObject_New(Errors, &ErrorsType);
	if (e == NULL)
		return NULL;
	e->ctx = ctx;
	e->buf = NULL;
	e->len = e->cap = 0;
	return (PyObject *)e;
}

/* errors_dealloc logs a pending partial line, then frees the stream.
 * It hands the line to Go WITH the GIL held: a tp_dealloc must not
 * release the GIL, since it runs wherever the last reference goes
 * (inside the GC, inside another object's dealloc, in a thread the app
 * started) and other threads would then run on a half-destroyed
 * object. The Go sink only logs, so holding the GIL through it costs
 * one log write, once per stream. */
static void errors_dealloc(Errors *e)
{
	if (e->len > 0)
		gowsgiErrorsWrite(e->ctx, e->buf, e->len);
	PyMem_RawFree(e->buf);
	PyObject_Free(e);
}

/* emit hands text to Go without the GIL. text must stay valid: it is
 * the stream's own buffer or a str object the caller holds. */
static void emit(uintptr_t ctx, const char *text, size_t len)
{
	if (len == 0)
		return;
	Py_BEGIN_ALLOW_THREADS
	gowsgiErrorsWrite(ctx, (char *)text, len);
	Py_END_ALLOW_THREADS
}

void gw_errors_flush(PyObject *obj)
{
	Errors *e = (Errors *)obj;
	char *buf;
	size_t len;

	if (e == NULL || e->len == 0)
		return;
	/* Take the text out first: another thread may write while Go logs. */
	buf = e->buf, len = e->len;
	e->buf = NULL;
	e->len = e->cap = 0;
	emit(e->ctx, buf, len);
	PyMem_RawFree(buf);
}

void gw_errors_detach(PyObject *obj)
{
	if (obj == NULL)
		return;
	gw_errors_flush(obj);
	((Errors *)obj)->ctx = 0;
}

void gw_errors_orphan(PyObject *obj)
{
	/* No GIL: an app thread may read ctx at the same time, and gets
	 * either the old sink or the default one; the store is atomic so it
	 * never sees half of each. */
	__atomic_store_n(&((Errors *)obj)->ctx, (uintptr_t)0, __ATOMIC_RELAXED);
}

static int append(Errors *e, const char *s, size_t n)
{
	if (e->len + n > e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 256;
		char *p;
		while (cap < e->len + n)
			cap *= 2;
		if ((p = PyMem_RawRealloc(e->buf, cap)) == NULL) {
			PyErr_NoMemory();
			return -1;
		}
		e->buf = p, e->cap = cap;
	}
	memcpy(e->buf + e->len, s, n);
	e->len += n;
	return 0;
}

/* write(s): log every complete line now, keep the rest. Returns len(s)
 * as io.TextIOBase.write does. */
static PyObject *errors_write(Errors *e, PyObject *s)
{
	PyObject *enc = NULL;
	const char *p;
	Py_ssize_t n;
	const char *nl;
	Py_ssize_t chars;

	if (!PyUnicode_Check(s)) {
		PyErr_Format(PyExc_TypeError, "write() argument must be str, not %.200s",
			     Py_TYPE(s)->tp_name);
		return NULL;
	}
	chars = PyUnicode_GET_LENGTH(s);
	if ((p = PyUnicode_AsUTF8AndSize(s, &n)) == NULL) {
		/* lone surrogates: log them escaped rather than lose the text */
		PyErr_Clear();
		enc = PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace");
		if (enc == NULL)
			return NULL;
		p = PyBytes_AS_STRING(enc), n = PyBytes_GET_SIZE(enc);
	}
	nl = n > 0 ? memrchr(p, '\n', (size_t)n) : NULL;
	if (nl == NULL) {
		if (append(e, p, (size_t)n) < 0)
			goto error;
		if (e->len >= MAX_PENDING)
			gw_errors_flush((PyObject *)e);
	} else {
		size_t head = (size_t)(nl - p); /* the lines, without the last '\n' */
		if (e->len > 0) {
			if (append(e, p, head) < 0)
				goto error;
			gw_errors_flush((PyObject *)e);
		} else {
			emit(e->ctx, p, head);
		}
		if (append(e, nl + 1, (size_t)(p + n - nl - 1)) < 0)
			goto error;
	}
	Py_XDECREF(enc);
	return PyLong_FromSsize_t(chars);
error:
	Py_XDECREF(enc);
	return NULL;
}

static PyObject *errors_writelines(Errors *e, PyObject *lines)
{
	PyObject *it = PyObject_GetIter(lines), *line;

	if (it == NULL)
		return NULL;
	while ((line = PyIter_Next(it)) != NULL) {
		PyObject *r = errors_write(e, line);
		Py_DECREF(line);
		if (r == NULL) {
			Py_DECREF(it);
			return NULL;
		}
		Py_DECREF(r);
	}
	Py_DECREF(it);
	if (PyErr_Occurred())
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *errors_flush_method(Errors *e, PyObject *unused)
{
	gw_errors_flush((PyObject *)e);
	Py_RETURN_NONE;
}

static PyObject *errors_true(PyObject *self, PyObject *unused) { Py_RETURN_TRUE; }

static PyMethodDef errors_methods[] = {
	{"write", (PyCFunction)errors_write, METH_O, "write(str): log each complete line"},
	{"writelines", (PyCFunction)errors_writelines, METH_O, "writelines(lines)"},
	{"flush", (PyCFunction)errors_flush_method, METH_NOARGS, "log a pending partial line"},
	{"writable", errors_true, METH_NOARGS, "True"},
	{NULL, NULL, 0, NULL},
};

static PyTypeObject ErrorsType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "gowsgi.Errors",
	.tp_basicsize = sizeof(Errors),
	.tp_dealloc = (destructor)errors_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_methods = errors_methods,
	.tp_doc = "wsgi.errors: lines written here go to gowsgi's error log (PEP 3333)",
};

int gw_errors_init(void) { return PyType_Ready(&ErrorsType); }
