/*
 * exchange.c: one WSGI request/response exchange: the environ, the
 * C-implemented start_response and write(), iterating the app's result
 * into the caller's buffer, and close().
 *
 * An exchange that finishes within gw_call lives on the C stack; one
 * whose response has more to produce (a big chunk Go must write first,
 * or a full buffer) moves to the heap and continues with gw_next.
 */
#include "pyshim.h"
#include <string.h>
#include <unistd.h>

/* Chunks at least this big are written by Go straight from the bytes
 * object instead of being copied into the out buffer. */
#define BIG_CHUNK 16384

typedef struct {
	PyObject_HEAD
	PyObject *status;  /* str; NULL until start_response is called */
	PyObject *headers; /* list of (str, str) */
	PyObject *written; /* bytes passed to write(), not yet sent; may be NULL */
	int headers_sent;  /* the head left for Go: exc_info now re-raises */
} StartResponse;

struct gw_exchange {
	StartResponse *sr;
	PyObject *result;  /* the app's return value */
	PyObject *iter;    /* NULL when result is an exact list/tuple walked by index */
	Py_ssize_t index;
	Py_ssize_t wpos;   /* next item of sr->written to send */
	PyObject *pending; /* the next chunk: it did not fit the last buffer */
	PyObject *deferred;/* an iterator chunk that arrived after write() data */
	PyObject *held;    /* the big chunk Go writes from; dropped on the next call */
};

static PyObject *app;          /* the WSGI callable */
static PyObject *base_environ; /* constant wsgi.* keys, copied per request */
static PyObject *bytes_io;     /* io.BytesIO */
static PyObject *io_open;      /* io.open */
static PyObject *empty_bytes;
static PyObject *str_write, *str_close, *key_wsgi_input;
static PyObject **environ_keys; /* interned keys, id 1..n_environ_keys */
static int n_environ_keys;

/* ---- start_response and write ---- */

static void sr_dealloc(StartResponse *self)
{
	Py_XDECREF(self->status);
	Py_XDECREF(self->headers);
	Py_XDECREF(self->written);
	PyObject_Free(self);
}

static int check_headers(PyObject *headers)
{
	if (!PyList_Check(headers)) {
		PyErr_Format(PyExc_TypeError, "response_headers must be a list, not %.200s",
			     Py_TYPE(headers)->tp_name);
		return -1;
	}
	for (Py_ssize_t i = 0; i < PyList_GET_SIZE(headers); i++) {
		PyObject *h = PyList_GET_ITEM(headers, i);
		if (!PyTuple_Check(h) || PyTuple_GET_SIZE(h) != 2 ||
		    !PyUnicode_Check(PyTuple_GET_ITEM(h, 0)) ||
		    !PyUnicode_Check(PyTuple_GET_ITEM(h, 1))) {
			PyErr_Format(PyExc_TypeError,
				     "response header %zd must be a (str, str) tuple", i);
			return -1;
		}
	}
	return 0;
}

/* PEP 3333 §"The start_response() Callable". Runs with the GIL. */
static PyObject *sr_call(StartResponse *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"status", "response_headers", "exc_info", NULL};
	PyObject *status, *headers, *exc_info = Py_None;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:start_response", kwlist, &status,
					 &headers, &exc_info))
		return NULL;
	if (exc_info != Py_None) {
		if (self->headers_sent) {
			PyObject *t, *v, *tb;
			if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
				PyErr_SetString(PyExc_TypeError, "exc_info must be a 3-tuple");
				return NULL;
			}
			t = PyTuple_GET_ITEM(exc_info, 0);
			v = PyTuple_GET_ITEM(exc_info, 1);
			tb = PyTuple_GET_ITEM(exc_info, 2);
			Py_INCREF(t);
			Py_INCREF(v);
			if (tb == Py_None)
				tb = NULL;
			Py_XINCREF(tb);
			PyErr_Restore(t, v, tb);
			return NULL;
		}
	} else if (self->status != NULL) {
		PyErr_SetString(PyExc_RuntimeError,
				"start_response() called a second time without exc_info");
		return NULL;
	}
	if (!PyUnicode_Check(status)) {
		PyErr_Format(PyExc_TypeError, "status must be str, not %.200s",
			     Py_TYPE(status)->tp_name);
		return NULL;
	}
	if (check_headers(headers) < 0)
		return NULL;
	Py_INCREF(status);
	Py_XSETREF(self->status, status);
	Py_INCREF(headers);
	Py_XSETREF(self->headers, headers);
	return PyObject_GetAttr((PyObject *)self, str_write);
}

static PyObject *sr_write(StartResponse *self, PyObject *data)
{
	if (self->status == NULL) {
		PyErr_SetString(PyExc_RuntimeError, "write() called before start_response()");
		return NULL;
	}
	if (!PyBytes_Check(data)) {
		PyErr_Format(PyExc_TypeError, "write() argument must be bytes, not %.200s",
			     Py_TYPE(data)->tp_name);
		return NULL;
	}
	if (self->written == NULL && (self->written = PyList_New(0)) == NULL)
		return NULL;
	if (PyList_Append(self->written, data) < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyMethodDef sr_methods[] = {
	{"write", (PyCFunction)sr_write, METH_O, "write(data): send bytes (PEP 3333)"},
	{NULL, NULL, 0, NULL},
};

static PyTypeObject StartResponseType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "gowsgi.StartResponse",
	.tp_basicsize = sizeof(StartResponse),
	.tp_dealloc = (destructor)sr_dealloc,
	.tp_call = (ternaryfunc)sr_call,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_methods = sr_methods,
	.tp_doc = "start_response(status, response_headers, exc_info=None)",
};

int gw_exchange_init_types(void)
{
	if (PyType_Ready(&StartResponseType) < 0)
		return -1;
	str_write = PyUnicode_InternFromString("write");
	str_close = PyUnicode_InternFromString("close");
	key_wsgi_input = PyUnicode_InternFromString("wsgi.input");
	empty_bytes = PyBytes_FromStringAndSize(NULL, 0);
	if (!str_write || !str_close || !key_wsgi_input || !empty_bytes)
		return -1;
	return 0;
}

/* gw_exchange_bind caches what load_app left in _gowsgi. GIL held. */
int gw_exchange_bind(void)
{
	PyObject *io;

	app = PyObject_GetAttrString(gw_bootstrap, "app");
	base_environ = PyObject_GetAttrString(gw_bootstrap, "base_environ");
	io = PyImport_ImportModule("io");
	if (io != NULL) {
		bytes_io = PyObject_GetAttrString(io, "BytesIO");
		io_open = PyObject_GetAttrString(io, "open");
		Py_DECREF(io);
	}
	if (app == NULL || base_environ == NULL || bytes_io == NULL || io_open == NULL)
		return -1;
	return 0;
}

/*
 * gw_set_environ_keys interns the well-known environ keys; the Go side
 * refers to key i as id i+1. GIL held (main thread, before release).
 */
int gw_set_environ_keys(const char *const *keys, int n, char **err)
{
	size_t len;

	environ_keys = PyMem_RawCalloc((size_t)n, sizeof(PyObject *));
	if (environ_keys == NULL)
		return -1;
	for (int i = 0; i < n; i++) {
		environ_keys[i] = PyUnicode_InternFromString(keys[i]);
		if (environ_keys[i] == NULL) {
			*err = gw_format_exception(&len);
			return -1;
		}
	}
	n_environ_keys = n;
	return 0;
}

/* ---- environ ---- */

/*
 * new_input returns wsgi.input: the body in memory, or a file opened on
 * a dup of body_fd (a spilled upload) when body_fd >= 0, which Python
 * then owns. New reference, or NULL.
 */
static PyObject *new_input(const char *body, size_t body_len, int body_fd)
{
	PyObject *raw, *input;

	if (body_fd >= 0) {
		int fd = dup(body_fd);
		if (fd < 0)
			return PyErr_SetFromErrno(PyExc_OSError);
		input = PyObject_CallFunction(io_open, "is", fd, "rb");
		if (input == NULL)
			close(fd);
		return input;
	}
	if (body_len == 0) {
		raw = empty_bytes;
		Py_INCREF(raw);
	} else if ((raw = PyBytes_FromStringAndSize(body, (Py_ssize_t)body_len)) == NULL) {
		return NULL;
	}
	input = PyObject_CallOneArg(bytes_io, raw);
	Py_DECREF(raw);
	return input;
}

/*
 * build_environ decodes the Go side's encoding, a sequence of
 *   [u8 key id] ([u16 len][key] when the id is 0) [u32 len][value]
 * with latin-1 keys and values. Returns a new reference, or NULL.
 */
static PyObject *build_environ(const char *env, size_t env_len, const char *body,
			       size_t body_len, int body_fd)
{
	const char *p = env, *end = env + env_len;
	PyObject *d, *key = NULL, *val = NULL, *input;

	d = PyDict_Copy(base_environ);
	if (d == NULL)
		return NULL;
	while (p < end) {
		unsigned id = (unsigned char)*p++;
		uint16_t klen;
		uint32_t vlen;

		if (id == 0) {
			if (end - p < 2)
				goto corrupt;
			memcpy(&klen, p, 2);
			p += 2;
			if ((size_t)(end - p) < klen)
				goto corrupt;
			key = PyUnicode_DecodeLatin1(p, klen, NULL);
			p += klen;
		} else {
			if ((int)id > n_environ_keys)
				goto corrupt;
			key = environ_keys[id - 1];
			Py_INCREF(key);
		}
		if (key == NULL || end - p < 4)
			goto corrupt;
		memcpy(&vlen, p, 4);
		p += 4;
		if ((size_t)(end - p) < vlen)
			goto corrupt;
		val = PyUnicode_DecodeLatin1(p, vlen, NULL);
		p += vlen;
		if (val == NULL || PyDict_SetItem(d, key, val) < 0)
			goto error;
		Py_CLEAR(key);
		Py_CLEAR(val);
	}
	input = new_input(body, body_len, body_fd);
	if (input == NULL || PyDict_SetItem(d, key_wsgi_input, input) < 0) {
		Py_XDECREF(input);
		goto error;
	}
	Py_DECREF(input);
	return d;

corrupt:
	if (!PyErr_Occurred())
		PyErr_SetString(PyExc_SystemError, "gowsgi: corrupt environ encoding");
error:
	Py_XDECREF(key);
	Py_XDECREF(val);
	Py_DECREF(d);
	return NULL;
}

/* ---- the response ---- */

static int put_latin1(PyObject *s, const char *what, char *out, size_t cap, size_t *pos,
		      int with_len)
{
	const char *data;
	uint32_t n;

#if PY_VERSION_HEX < 0x030C0000
	if (PyUnicode_READY(s) < 0)
		return -1;
#endif
	if (PyUnicode_KIND(s) != PyUnicode_1BYTE_KIND) {
		PyErr_Format(PyExc_ValueError, "response %s is not latin-1: %R", what, s);
		return -1;
	}
	data = (const char *)PyUnicode_DATA(s);
	n = (uint32_t)PyUnicode_GET_LENGTH(s);
	if (*pos + n + 4 > cap) {
		PyErr_Format(PyExc_ValueError, "response head exceeds %zu bytes", cap);
		return -1;
	}
	if (with_len) {
		memcpy(out + *pos, &n, 4);
		*pos += 4;
	}
	memcpy(out + *pos, data, n);
	*pos += n;
	return 0;
}

/* emit_head writes status and headers at out[0:] (see gw_result). */
static int emit_head(StartResponse *sr, char *out, size_t cap, gw_result *res)
{
	size_t pos = 0;
	Py_ssize_t i, n;

	if (sr->status == NULL) {
		PyErr_SetString(PyExc_RuntimeError, "the application did not call start_response()");
		return -1;
	}
	if (check_headers(sr->headers) < 0)
		return -1;
	if (put_latin1(sr->status, "status", out, cap, &pos, 0) < 0)
		return -1;
	res->status_len = (uint32_t)pos;
	n = PyList_GET_SIZE(sr->headers);
	for (i = 0; i < n; i++) {
		PyObject *h = PyList_GET_ITEM(sr->headers, i);
		if (put_latin1(PyTuple_GET_ITEM(h, 0), "header name", out, cap, &pos, 1) < 0 ||
		    put_latin1(PyTuple_GET_ITEM(h, 1), "header value", out, cap, &pos, 1) < 0)
			return -1;
	}
	res->nheaders = (uint32_t)n;
	res->head_len = (uint32_t)pos;
	res->flags |= GW_HEAD;
	sr->headers_sent = 1;
	return 0;
}

/* next_chunk returns a new reference to the next body chunk, or NULL at
 * the end (no error set) or on error. Order: a chunk put back, data
 * from write(), a chunk that arrived behind write() data, the iterable. */
static PyObject *next_chunk(gw_exchange *x)
{
	PyObject *item, *w = x->sr->written;

	if ((item = x->pending) != NULL) {
		x->pending = NULL;
		return item;
	}
	if (w != NULL && x->wpos < PyList_GET_SIZE(w)) {
		item = PyList_GET_ITEM(w, x->wpos++);
		Py_INCREF(item);
		if (x->wpos == PyList_GET_SIZE(w)) {
			if (PyList_SetSlice(w, 0, x->wpos, NULL) < 0) {
				Py_DECREF(item);
				return NULL;
			}
			x->wpos = 0;
		}
		return item;
	}
	if ((item = x->deferred) != NULL) {
		x->deferred = NULL;
		return item;
	}
	if (x->iter == NULL) {
		if (x->index >= Py_SIZE(x->result))
			return NULL;
		item = PySequence_Fast_GET_ITEM(x->result, x->index++);
		Py_INCREF(item);
		return item;
	}
	item = PyIter_Next(x->iter);
	w = x->sr->written;
	if (item != NULL && w != NULL && x->wpos < PyList_GET_SIZE(w)) {
		x->deferred = item;
		return next_chunk(x);
	}
	return item;
}

/* close_result calls the iterable's close() exactly once (PEP 3333) and
 * drops every reference the exchange holds. Returns -1 with the error
 * set if close() raised. */
static int close_result(gw_exchange *x)
{
	int rc = 0;
	PyObject *r = x->result;

	if (r != NULL && !PyList_CheckExact(r) && !PyTuple_CheckExact(r) && !PyBytes_CheckExact(r)) {
		PyObject *close = PyObject_GetAttr(r, str_close);
		if (close == NULL) {
			if (PyErr_ExceptionMatches(PyExc_AttributeError))
				PyErr_Clear();
			else
				rc = -1;
		} else {
			PyObject *ok = PyObject_CallNoArgs(close);
			Py_DECREF(close);
			if (ok == NULL)
				rc = -1;
			Py_XDECREF(ok);
		}
	}
	Py_CLEAR(x->iter);
	Py_CLEAR(x->result);
	Py_CLEAR(x->pending);
	Py_CLEAR(x->deferred);
	Py_CLEAR(x->held);
	Py_CLEAR(x->sr);
	return rc;
}

static void fail(gw_exchange *x, gw_result *res)
{
	res->flags |= GW_ERROR | GW_DONE;
	res->err = gw_format_exception(&res->err_len);
	if (close_result(x) < 0)
		PyErr_Clear(); /* the first traceback is the one worth logging */
}

/*
 * pump fills out with the head (once) and as much body as fits, stops
 * at a big chunk, and closes the iterable at its end. GIL held.
 */
static void pump(gw_exchange *x, char *out, size_t cap, gw_result *res)
{
	size_t pos = 0;
	PyObject *item;

	Py_CLEAR(x->held);
	for (;;) {
		Py_ssize_t n;

		item = next_chunk(x);
		if (item == NULL) {
			if (PyErr_Occurred())
				goto error;
			break;
		}
		if (!PyBytes_Check(item)) {
			PyErr_Format(PyExc_TypeError,
				     "the application must produce bytes, not %.200s",
				     Py_TYPE(item)->tp_name);
			Py_DECREF(item);
			goto error;
		}
		n = PyBytes_GET_SIZE(item);
		if (n == 0) {
			Py_DECREF(item);
			continue;
		}
		if (!x->sr->headers_sent) {
			if (emit_head(x->sr, out, cap, res) < 0) {
				Py_DECREF(item);
				goto error;
			}
			pos = res->body_off = res->head_len;
		}
		if (n < BIG_CHUNK && (size_t)n <= cap - pos) {
			memcpy(out + pos, PyBytes_AS_STRING(item), (size_t)n);
			pos += (size_t)n;
			Py_DECREF(item);
			continue;
		}
		if (n < BIG_CHUNK) {
			x->pending = item; /* flush what we have first */
		} else {
			x->held = item;
			res->big = PyBytes_AS_STRING(item);
			res->big_len = n;
			res->flags |= GW_BIG;
		}
		res->body_len = (uint32_t)(pos - res->body_off);
		return;
	}
	if (!x->sr->headers_sent) {
		if (emit_head(x->sr, out, cap, res) < 0)
			goto error;
		pos = res->body_off = res->head_len;
	}
	res->body_len = (uint32_t)(pos - res->body_off);
	res->flags |= GW_DONE;
	if (close_result(x) < 0)
		res->err = gw_format_exception(&res->err_len);
	return;
error:
	fail(x, res);
}

static void park(gw_exchange *x, gw_result *res)
{
	if (res->flags & GW_DONE)
		return;
	if (res->exch == NULL) {
		res->exch = PyMem_RawMalloc(sizeof *x);
		if (res->exch == NULL) {
			PyErr_NoMemory();
			fail(x, res);
			return;
		}
		*res->exch = *x;
	}
}

/*
 * gw_call runs the app for one request: environ, app(environ,
 * start_response), and as much of the response as fits in out. Called
 * without the GIL from any thread.
 */
int gw_call(const char *env, size_t env_len, const char *body, size_t body_len, int body_fd,
	    char *out, size_t out_cap, gw_result *res)
{
	gw_exchange x;
	PyObject *environ, *args[2];

	memset(res, 0, sizeof *res);
	memset(&x, 0, sizeof x);
	PyEval_RestoreThread(gw_thread_state());
	x.sr = PyObject_New(StartResponse, &StartResponseType);
	if (x.sr == NULL) {
		fail(&x, res);
		goto out;
	}
	x.sr->status = x.sr->headers = x.sr->written = NULL;
	x.sr->headers_sent = 0;
	environ = build_environ(env, env_len, body, body_len, body_fd);
	if (environ == NULL) {
		fail(&x, res);
		goto out;
	}
	args[0] = environ;
	args[1] = (PyObject *)x.sr;
	x.result = PyObject_Vectorcall(app, args, 2, NULL);
	Py_DECREF(environ);
	if (x.result == NULL) {
		fail(&x, res);
		goto out;
	}
	if (!PyList_CheckExact(x.result) && !PyTuple_CheckExact(x.result)) {
		x.iter = PyObject_GetIter(x.result);
		if (x.iter == NULL) {
			fail(&x, res);
			goto out;
		}
	}
	pump(&x, out, out_cap, res);
	park(&x, res);
out:
	PyEval_SaveThread();
	return (res->flags & GW_ERROR) ? -1 : 0;
}

/* gw_next continues a parked exchange; it is freed once done. */
int gw_next(gw_exchange *x, char *out, size_t out_cap, gw_result *res)
{
	memset(res, 0, sizeof *res);
	PyEval_RestoreThread(gw_thread_state());
	res->exch = x;
	pump(x, out, out_cap, res);
	if (res->flags & GW_DONE) {
		PyMem_RawFree(x);
		res->exch = NULL;
	}
	PyEval_SaveThread();
	return (res->flags & GW_ERROR) ? -1 : 0;
}

/* gw_abort ends a parked exchange early (client gone, bad headers):
 * close() is still called exactly once. */
void gw_abort(gw_exchange *x, gw_result *res)
{
	memset(res, 0, sizeof *res);
	PyEval_RestoreThread(gw_thread_state());
	if (close_result(x) < 0)
		res->err = gw_format_exception(&res->err_len);
	res->flags = GW_DONE;
	PyMem_RawFree(x);
	PyEval_SaveThread();
}
