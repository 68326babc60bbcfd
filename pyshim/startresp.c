/*
 * startresp.c: start_response and write() (PEP 3333 "The start_response()
 * Callable"), and encoding the head they recorded for Go.
 */
#include "internal.h"
#include <string.h>

PyObject *gw_str_close;
static PyObject *str_write;

static int put_latin1(PyObject *s, const char *what, char *out, size_t cap, size_t *pos,
		      int with_len);

static void sr_dealloc(StartResponse *self)
{
	Py_XDECREF(self->status);
	Py_XDECREF(self->headers);
	Py_XDECREF(self->written);
	PyObject_Free(self);
}

static int is_str_pair(PyObject *h)
{
	return PyTuple_Check(h) && PyTuple_GET_SIZE(h) == 2 && PyUnicode_Check(PyTuple_GET_ITEM(h, 0)) &&
	       PyUnicode_Check(PyTuple_GET_ITEM(h, 1));
}

/*
 * header_list returns (a new reference) the response headers as a list of
 * (str, str) tuples: headers itself when it is one, as PEP 3333 asks;
 * else a new list made of any iterable of pairs (dict.items(), a tuple of
 * tuples, a list of lists), which Gunicorn and uWSGI take too, so apps
 * written for them work. Names and values must be str, as everywhere.
 */
static PyObject *header_list(PyObject *headers)
{
	PyObject *list;
	Py_ssize_t i, n;

	if (PyList_Check(headers)) {
		for (i = 0; i < PyList_GET_SIZE(headers); i++)
			if (!is_str_pair(PyList_GET_ITEM(headers, i)))
				break;
		if (i == PyList_GET_SIZE(headers))
			return Py_NewRef(headers);
	}
	list = PySequence_List(headers);
	if (list == NULL) {
		if (PyErr_ExceptionMatches(PyExc_TypeError)) {
			PyErr_Clear();
			PyErr_Format(PyExc_TypeError,
				     "response_headers must be a list of (name, value) tuples, not %.200s",
				     Py_TYPE(headers)->tp_name);
		}
		return NULL;
	}
	n = PyList_GET_SIZE(list);
	for (i = 0; i < n; i++) {
		PyObject *h = PyList_GET_ITEM(list, i), *pair;
		if (is_str_pair(h))
			continue;
		pair = PySequence_Check(h) && !PyUnicode_Check(h) && !PyBytes_Check(h) ? PySequence_Tuple(h) : NULL;
		if (pair == NULL || !is_str_pair(pair)) {
			Py_XDECREF(pair);
			Py_DECREF(list);
			PyErr_Clear();
			PyErr_Format(PyExc_TypeError, "response header %zd must be a (str, str) tuple", i);
			return NULL;
		}
		PyList_SET_ITEM(list, i, pair); /* steals pair */
		Py_DECREF(h);
	}
	return list;
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
	if ((headers = header_list(headers)) == NULL)
		return NULL;
	Py_INCREF(status);
	Py_XSETREF(self->status, status);
	Py_XSETREF(self->headers, headers);
	return PyObject_GetAttr((PyObject *)self, str_write);
}

/* write_step hands the step described in s->res to Go without the GIL
 * (the write hook); a client that went away becomes a ConnectionError in
 * the app. */
static PyObject *write_step(gw_slot *s)
{
	int ok;

	Py_BEGIN_ALLOW_THREADS
	ok = gowsgiWriteStep(s->ctx);
	Py_END_ALLOW_THREADS
	if (!ok) {
		PyErr_SetString(PyExc_ConnectionError, "gowsgi: the client is gone");
		return NULL;
	}
	Py_RETURN_NONE;
}

/*
 * hand_over sends the head (the first time) and data to Go through the
 * write hook, without the GIL, as PEP 3333 wants of write(): the bytes
 * are sent, or buffered for sending while the app goes on, before it
 * returns. A client that went away becomes a ConnectionError in the app.
 */
static PyObject *hand_over(StartResponse *self, PyObject *data)
{
	gw_slot *s = self->hook;
	gw_result *res = s->res;
	size_t pos = 0, n = (size_t)PyBytes_GET_SIZE(data);

	memset(res, 0, sizeof *res);
	if (!self->headers_sent) {
		if (gw_emit_head(self, s->out, s->cap, res) < 0)
			return NULL;
		pos = res->body_off = res->head_len;
	}
	if (n <= s->cap - pos) {
		memcpy(s->out + pos, PyBytes_AS_STRING(data), n);
		res->body_len = (uint32_t)n;
	} else {
		res->big = PyBytes_AS_STRING(data); /* the caller holds data */
		res->big_len = (int64_t)n;
		res->flags |= GW_BIG;
	}
	return write_step(s);
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
	/* Only the thread running the app: one it started must not write to
	 * the socket behind the worker's back; its data waits for a step,
	 * and so does everything after it, to keep the order. */
	if (self->hook != NULL && PyThreadState_Get() == self->hook->tstate &&
	    (self->written == NULL || PyList_GET_SIZE(self->written) == 0))
		return hand_over(self, data);
	if (self->written == NULL && (self->written = PyList_New(0)) == NULL)
		return NULL;
	if (PyList_Append(self->written, data) < 0)
		return NULL;
	Py_RETURN_NONE;
}

/* The start_response of the app call running on this thread, while it
 * has a write hook: wsgi.early_hints sends through it. */
static __thread StartResponse *running;

void gw_startresp_running(StartResponse *sr) { running = sr; }

static PyObject *str_early_hints_status; /* "103 Early Hints" */

/*
 * early_hints(headers) is environ["wsgi.early_hints"] (Gunicorn 25's):
 * a 103 Early Hints head with headers, (str, str) pairs, sent at
 * once, before the response (RFC 8297). Go drops it for a client that
 * cannot take one (HTTP/1.0) or once the response's head is out, and
 * logs headers it refuses; hints are advisory, so a call from outside
 * the app's own call (another thread, a generator's later step) is
 * ignored too. A client that went away becomes a ConnectionError.
 */
static PyObject *early_hints(PyObject *module, PyObject *headers)
{
	StartResponse *sr = running;
	gw_slot *s;
	gw_result *res;
	size_t pos = 0;
	Py_ssize_t i, n;
	PyObject *list;

	(void)module;
	if ((list = header_list(headers)) == NULL)
		return NULL;
	if (sr == NULL || sr->hook == NULL || sr->headers_sent ||
	    (sr->written != NULL && PyList_GET_SIZE(sr->written) > 0)) {
		Py_DECREF(list);
		Py_RETURN_NONE;
	}
	s = sr->hook;
	res = s->res;
	memset(res, 0, sizeof *res);
	if (put_latin1(str_early_hints_status, "status", s->out, s->cap, &pos, 0) < 0)
		goto error;
	res->status_len = (uint32_t)pos;
	n = PyList_GET_SIZE(list);
	for (i = 0; i < n; i++) {
		PyObject *h = PyList_GET_ITEM(list, i);
		if (put_latin1(PyTuple_GET_ITEM(h, 0), "early hint name", s->out, s->cap, &pos, 1) < 0 ||
		    put_latin1(PyTuple_GET_ITEM(h, 1), "early hint value", s->out, s->cap, &pos, 1) < 0)
			goto error;
	}
	Py_DECREF(list); /* put_latin1 copied the bytes out */
	res->nheaders = (uint32_t)n;
	res->head_len = res->body_off = (uint32_t)pos;
	res->flags = GW_HEAD | GW_INTERIM;
	return write_step(s);
error:
	Py_DECREF(list);
	return NULL;
}

static PyMethodDef early_hints_def = {"early_hints", early_hints, METH_O,
				      "early_hints(headers): send a 103 Early Hints head now"};

PyObject *gw_early_hints_new(void) { return PyCFunction_New(&early_hints_def, NULL); }

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

int gw_startresp_init(void)
{
	if (PyType_Ready(&StartResponseType) < 0)
		return -1;
	str_write = PyUnicode_InternFromString("write");
	gw_str_close = PyUnicode_InternFromString("close");
	str_early_hints_status = PyUnicode_InternFromString("103 Early Hints");
	if (str_write == NULL || gw_str_close == NULL || str_early_hints_status == NULL)
		return -1;
	return 0;
}

StartResponse *gw_startresp_new(void)
{
	StartResponse *sr = PyObject_New(StartResponse, &StartResponseType);
	if (sr != NULL) {
		sr->status = sr->headers = sr->written = NULL;
		sr->headers_sent = 0;
		sr->hook = NULL;
	}
	return sr;
}

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

int gw_emit_head(StartResponse *sr, char *out, size_t cap, gw_result *res)
{
	size_t pos = 0;
	Py_ssize_t i, n;
	PyObject *headers;

	if (sr->status == NULL) {
		PyErr_SetString(PyExc_RuntimeError, "the application did not call start_response()");
		return -1;
	}
	/* Again: the app may have changed its list since start_response. */
	headers = header_list(sr->headers);
	if (headers == NULL)
		return -1;
	Py_SETREF(sr->headers, headers);
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

