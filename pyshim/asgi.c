/*
 * asgi.c: the C half of the ASGI runtime: the event queue Go posts into
 * and the loop drains, the functions asgi.py calls (_c.take, _c.out),
 * and starting and running the loop on its thread.
 *
 * Threads and the GIL: gw_aq_* run on any thread WITHOUT the GIL (they
 * take only the queue's mutex, never while calling Python). The Python
 * functions and gw_asgi_* run on the loop's thread; gw_asgi_prepare and
 * gw_asgi_run take the GIL with that thread's cached thread state and
 * give it back before returning. While the loop waits in epoll, asyncio
 * (or uvloop) has released the GIL.
 */
#include "internal.h"
#include "asgi.h"
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

typedef struct gw_aevent {
	struct gw_aevent *next;
	uint64_t conn;
	int kind;
	int flags;
	int64_t code;
	size_t len;
	char data[];
} gw_aevent;

struct gw_aqueue {
	pthread_mutex_t mu;
	gw_aevent *head, *tail; /* guarded by mu */
	int signalled;          /* guarded by mu: the eventfd was written since the last take */
	int64_t oldest_ns;      /* guarded by mu: when the head was posted; 0 when empty */
	int efd;                /* immutable */
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* gw_aq_new returns a new queue and its eventfd in *efd, or NULL with
 * errno set. */
gw_aqueue *gw_aq_new(int *efd)
{
	gw_aqueue *q = calloc(1, sizeof *q);

	if (q == NULL)
		return NULL;
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0) {
		int e = errno;
		free(q);
		errno = e;
		return NULL;
	}
	pthread_mutex_init(&q->mu, NULL);
	*efd = q->efd;
	return q;
}

/* gw_aq_free frees the events left and closes the eventfd. The loop must
 * be gone. */
void gw_aq_free(gw_aqueue *q)
{
	gw_aevent *e, *next;

	if (q == NULL)
		return;
	for (e = q->head; e != NULL; e = next) {
		next = e->next;
		free(e);
	}
	close(q->efd);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

/*
 * gw_aq_post copies one event into the queue and wakes the loop if it
 * was not woken since it last took. Returns 0, or -1 when out of memory.
 * The eventfd is written after the mutex is released; a loop that takes
 * the event first just wakes once more for nothing.
 */
int gw_aq_post(gw_aqueue *q, uint64_t conn, int kind, int flags, int64_t code, const char *data,
	       size_t len)
{
	gw_aevent *e = malloc(sizeof *e + len);
	int wake = 0;

	if (e == NULL)
		return -1;
	e->next = NULL;
	e->conn = conn;
	e->kind = kind;
	e->flags = flags;
	e->code = code;
	e->len = len;
	if (len > 0)
		memcpy(e->data, data, len);
	pthread_mutex_lock(&q->mu);
	if (q->tail == NULL) {
		q->head = e;
		q->oldest_ns = now_ns();
	} else {
		q->tail->next = e;
	}
	q->tail = e;
	if (!q->signalled) {
		q->signalled = 1;
		wake = 1;
	}
	pthread_mutex_unlock(&q->mu);
	if (wake) {
		uint64_t one = 1;
		/* EAGAIN only when the counter is at its maximum: awake anyway. */
		while (write(q->efd, &one, sizeof one) < 0 && errno == EINTR)
			;
	}
	return 0;
}

/* gw_aq_stalled returns how long (ns) the oldest event not yet taken has
 * waited, 0 when none waits; *empty tells the two apart. */
int64_t gw_aq_stalled(gw_aqueue *q, int *empty)
{
	int64_t since;

	pthread_mutex_lock(&q->mu);
	since = q->oldest_ns;
	pthread_mutex_unlock(&q->mu);
	*empty = since == 0;
	return since == 0 ? 0 : now_ns() - since;
}

/* _c.take(q): the queued events as a list of (conn, kind, flags, code,
 * data) tuples, data bytes or None; the queue is left empty. Loop
 * thread, GIL held. */
static PyObject *asgi_take(PyObject *self, PyObject *arg)
{
	gw_aqueue *q = PyLong_AsVoidPtr(arg);
	gw_aevent *e, *next;
	PyObject *list = NULL, *item;

	(void)self;
	if (q == NULL)
		return NULL;
	pthread_mutex_lock(&q->mu);
	e = q->head;
	q->head = q->tail = NULL;
	q->signalled = 0;
	q->oldest_ns = 0;
	pthread_mutex_unlock(&q->mu);

	list = PyList_New(0);
	for (; e != NULL; e = next) {
		next = e->next;
		if (list != NULL) {
			if (e->len > 0 || e->kind == GW_IN_BODY || e->kind == GW_IN_WS_MESSAGE)
				item = Py_BuildValue("(KiiLy#)", (unsigned long long)e->conn, e->kind,
						     e->flags, (long long)e->code, e->data,
						     (Py_ssize_t)e->len);
			else
				item = Py_BuildValue("(KiiLO)", (unsigned long long)e->conn, e->kind,
						     e->flags, (long long)e->code, Py_None);
			if (item == NULL || PyList_Append(list, item) < 0)
				Py_CLEAR(list);
			Py_XDECREF(item);
		}
		free(e);
	}
	return list;
}

/* encode_headers writes headers (a list of two-item sequences of bytes)
 * into *buf as [u32 name_len][name][u32 value_len][value] records, native
 * byte order. Returns the number of headers, or -1 with an exception.
 * *buf is malloc'd (free it), also on error. */
static Py_ssize_t encode_headers(PyObject *headers, char **buf, size_t *len)
{
	Py_ssize_t i, n;
	size_t cap = 256, used = 0;
	char *b = malloc(cap);

	*buf = b;
	*len = 0;
	if (b == NULL) {
		PyErr_NoMemory();
		return -1;
	}
	if (!PyList_Check(headers)) {
		PyErr_SetString(PyExc_TypeError, "ASGI headers must be an iterable of [name, value] pairs");
		return -1;
	}
	n = PyList_GET_SIZE(headers);
	for (i = 0; i < n; i++) {
		PyObject *pair = PyList_GET_ITEM(headers, i), *fast;
		PyObject *kv[2];

		fast = PySequence_Fast(pair, "an ASGI header must be a [name, value] pair");
		if (fast == NULL)
			return -1;
		if (PySequence_Fast_GET_SIZE(fast) != 2) {
			Py_DECREF(fast);
			PyErr_SetString(PyExc_TypeError, "an ASGI header must be a [name, value] pair");
			return -1;
		}
		kv[0] = PySequence_Fast_GET_ITEM(fast, 0);
		kv[1] = PySequence_Fast_GET_ITEM(fast, 1);
		for (int k = 0; k < 2; k++) {
			if (!PyBytes_Check(kv[k])) {
				PyErr_Format(PyExc_TypeError, "ASGI header %s must be bytes, not %.100s",
					     k ? "values" : "names", Py_TYPE(kv[k])->tp_name);
				Py_DECREF(fast);
				return -1;
			}
			size_t m = (size_t)PyBytes_GET_SIZE(kv[k]);
			if (m > UINT32_MAX) {
				PyErr_SetString(PyExc_ValueError, "an ASGI header is too long");
				Py_DECREF(fast);
				return -1;
			}
			if (used + 4 + m > cap) {
				char *nb;
				while (used + 4 + m > cap)
					cap *= 2;
				nb = realloc(b, cap);
				if (nb == NULL) {
					Py_DECREF(fast);
					PyErr_NoMemory();
					return -1;
				}
				*buf = b = nb;
			}
			uint32_t m32 = (uint32_t)m;
			memcpy(b + used, &m32, 4);
			memcpy(b + used + 4, PyBytes_AS_STRING(kv[k]), m);
			used += 4 + m;
		}
		Py_DECREF(fast);
	}
	*len = used;
	return n;
}

/* _c.out(h, conn, kind, status, headers, body, flags, text) hands one
 * event to Go (gowsgiASGIOut) and returns its answer: 1 room, 0 full,
 * -1 gone. headers is a list or None, body bytes-like or None, text str
 * or None. Loop thread, GIL held. */
static PyObject *asgi_out(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	unsigned long long h, conn;
	int kind, status, flags, rc;
	char *head = NULL, *text = NULL;
	size_t head_len = 0;
	Py_ssize_t nheaders = 0, text_len = 0;
	Py_buffer body = {0};
	PyObject *res = NULL;

	(void)self;
	if (nargs != 8) {
		PyErr_SetString(PyExc_TypeError, "out takes 8 arguments");
		return NULL;
	}
	h = PyLong_AsUnsignedLongLong(args[0]);
	conn = PyLong_AsUnsignedLongLong(args[1]);
	kind = PyLong_AsLong(args[2]);
	status = PyLong_AsLong(args[3]);
	flags = PyLong_AsLong(args[6]);
	if (PyErr_Occurred())
		return NULL;
	if (args[4] != Py_None && (nheaders = encode_headers(args[4], &head, &head_len)) < 0)
		goto out;
	if (args[5] != Py_None && PyObject_GetBuffer(args[5], &body, PyBUF_SIMPLE) < 0)
		goto out;
	if (args[7] != Py_None) {
		text = (char *)PyUnicode_AsUTF8AndSize(args[7], &text_len);
		if (text == NULL)
			goto out;
	}
	rc = gowsgiASGIOut((uintptr_t)h, (uint64_t)conn, kind, status, flags, head, head_len,
			   (uint32_t)nheaders, body.buf, (size_t)body.len, text, (size_t)text_len);
	res = PyLong_FromLong(rc);
out:
	if (body.obj != NULL)
		PyBuffer_Release(&body);
	free(head);
	return res;
}

static PyMethodDef asgi_methods[] = {
	{"take", asgi_take, METH_O, "take(q): the events Go queued"},
	{"out", (PyCFunction)(void (*)(void))asgi_out, METH_FASTCALL, "out(...): an event for Go"},
	{NULL, NULL, 0, NULL},
};

static PyObject *asgi_mod; /* _gowsgi_asgi; created once, lives for the process */

/* install_module runs src as the module _gowsgi_asgi, with _c (the
 * functions above) in its namespace. GIL held. */
static int install_module(const char *src)
{
	PyObject *mod = NULL, *c = NULL, *res = NULL, *dict;

	mod = PyModule_New("_gowsgi_asgi");
	if (mod == NULL)
		goto error;
	c = PyModule_New("_gowsgi_asgi_c");
	if (c == NULL || PyModule_AddFunctions(c, asgi_methods) < 0)
		goto error;
	dict = PyModule_GetDict(mod); /* borrowed */
	if (PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins()) < 0 ||
	    PyDict_SetItemString(dict, "_c", c) < 0 ||
	    PyDict_SetItemString(PyImport_GetModuleDict(), "_gowsgi_asgi", mod) < 0)
		goto error;
	res = PyRun_String(src, Py_file_input, dict, dict);
	if (res == NULL)
		goto error;
	Py_DECREF(res);
	Py_DECREF(c);
	asgi_mod = mod;
	return 0;
error:
	Py_XDECREF(c);
	Py_XDECREF(mod);
	return -1;
}

static char *dup_utf8(PyObject *s)
{
	Py_ssize_t n;
	const char *p = PyUnicode_AsUTF8AndSize(s, &n);
	char *out;

	if (p == NULL)
		return NULL;
	out = malloc((size_t)n + 1);
	if (out != NULL)
		memcpy(out, p, (size_t)n + 1);
	return out;
}

/*
 * gw_asgi_prepare creates the event loop (loop: "auto", "asyncio",
 * "uvloop") on the calling OS thread, which must stay the loop's until
 * gw_asgi_run returns, and registers the queue's eventfd with it. app is
 * a spec to import, or "" for the app gw_load_app loaded. On success
 * *loop_name is the loop's module ("asyncio", "uvloop"), malloc'd.
 * Returns 0, or -1 with *err (malloc'd traceback).
 */
int gw_asgi_prepare(gw_aqueue *q, int efd, uintptr_t handle, const char *src, const char *loop,
		    const char *lifespan, const char *app, char **loop_name, char **err)
{
	PyThreadState *ts = gw_thread_state();
	PyObject *res = NULL, *qo = NULL;
	int rc = -1;

	if (ts == NULL) {
		*err = strdup("cannot create a Python thread state for the event loop (out of memory)");
		return -1;
	}
	PyEval_RestoreThread(ts);
	if (asgi_mod == NULL && install_module(src) < 0)
		goto out;
	qo = PyLong_FromVoidPtr(q);
	if (qo == NULL)
		goto out;
	res = PyObject_CallMethod(asgi_mod, "prepare", "OiKsss", qo, efd, (unsigned long long)handle,
				  loop, lifespan, app);
	if (res == NULL)
		goto out;
	*loop_name = dup_utf8(res);
	if (*loop_name != NULL)
		rc = 0;
out:
	if (rc < 0) {
		size_t n;
		*err = gw_format_exception(&n);
	}
	Py_XDECREF(qo);
	Py_XDECREF(res);
	PyEval_SaveThread();
	return rc;
}

/* gw_asgi_run runs the loop prepared on this thread until GW_IN_STOP.
 * Returns 0, or -1 with *err (malloc'd traceback). */
int gw_asgi_run(char **err)
{
	PyObject *res;
	int rc = 0;

	PyEval_RestoreThread(gw_thread_state());
	res = PyObject_CallMethod(asgi_mod, "run", NULL);
	if (res == NULL) {
		size_t n;
		*err = gw_format_exception(&n);
		rc = -1;
	}
	Py_XDECREF(res);
	PyEval_SaveThread();
	return rc;
}
