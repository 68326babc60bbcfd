/*
 * asgi.c: the C half of the ASGI runtime: the event queue Go posts into
 * and the loop drains, the functions asgi.py calls (_c.take; _c.out is
 * asgiout.c's), and starting and running the loop on its thread.
 *
 * Threads and the GIL: gw_aq_* run on any thread WITHOUT the GIL (they
 * take only the queue's mutex, never while calling Python). The Python
 * functions and gw_asgi_* run on the loop's thread (but gw_asgi_running,
 * which another thread calls); gw_asgi_prepare, gw_asgi_run and
 * gw_asgi_running take the GIL with the calling thread's cached thread
 * state and give it back before returning. While the loop waits in
 * epoll, asyncio (or uvloop) has released the GIL.
 */
#include "asgiq.h"
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

gw_aqueue *gw_aq_new(int *efd, int *ofd)
{
	gw_aqueue *q = calloc(1, sizeof *q);

	if (q == NULL)
		return NULL;
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	q->ofd = q->efd < 0 ? -1 : eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->ofd < 0) {
		int e = errno;
		if (q->efd >= 0)
			close(q->efd);
		free(q);
		errno = e;
		return NULL;
	}
	pthread_mutex_init(&q->mu, NULL);
	pthread_mutex_init(&q->omu, NULL);
	*efd = q->efd;
	*ofd = q->ofd;
	return q;
}

/* gw_aq_free frees the events left both ways and closes the loop's
 * eventfd (not Go's). The loop must be gone. */
void gw_aq_free(gw_aqueue *q)
{
	gw_aevent *e, *next;

	if (q == NULL)
		return;
	for (e = q->head; e != NULL; e = next) {
		next = e->next;
		free(e);
	}
	gw_oq_free(q);
	close(q->efd);
	pthread_mutex_destroy(&q->mu);
	pthread_mutex_destroy(&q->omu);
	free(q);
}

/*
 * gw_aq_post copies the events Go gathered (asgi.go, appendEvent) into
 * the queue: records of [u64 conn][i32 kind][i32 flags][i64 code]
 * [u64 len][len bytes], each padded to a multiple of 8, native byte
 * order. Returns 1 when the loop was not woken since it last took and
 * the caller must wake it (gw_aq_wake), 0 when it need not, -1 when out
 * of memory (the events from the first that did not fit are dropped).
 * Waking is the caller's so that it can first gather what else it has
 * to post: a loop woken at once (it preempts the poster on a shared CPU)
 * would take the events one at a time. waited_ns is how long the first
 * event waited in Go before this hand-off: an event's age (gw_aq_stalled)
 * counts from its post, not from when Go got round to handing it over.
 */
int gw_aq_post(gw_aqueue *q, const char *buf, size_t len, int64_t waited_ns)
{
	gw_aevent *head = NULL, **link = &head, *last = NULL;
	size_t off = 0;
	int wake = 0, rc = 0;

	while (off + 32 <= len) {
		gw_aevent *e;
		uint64_t n;

		memcpy(&n, buf + off + 24, 8);
		if (n > len - off - 32) {
			rc = -1; /* Go's encoding is wrong: never */
			break;
		}
		e = malloc(sizeof *e + n);
		if (e == NULL) {
			rc = -1;
			break;
		}
		e->next = NULL;
		memcpy(&e->conn, buf + off, 8);
		int32_t kind, flags;
		memcpy(&kind, buf + off + 8, 4);
		memcpy(&flags, buf + off + 12, 4);
		e->kind = kind;
		e->flags = flags;
		memcpy(&e->code, buf + off + 16, 8);
		e->len = (size_t)n;
		if (n > 0)
			memcpy(e->data, buf + off + 32, (size_t)n);
		*link = last = e;
		link = &e->next;
		off += (32 + (size_t)n + 7) & ~(size_t)7;
	}
	if (head == NULL)
		return rc;
	pthread_mutex_lock(&q->mu);
	if (q->tail == NULL) {
		q->head = head;
		q->oldest_ns = now_ns() - (waited_ns > 0 ? waited_ns : 0);
	} else {
		q->tail->next = head;
	}
	q->tail = last;
	if (!q->signalled) {
		q->signalled = 1;
		wake = 1;
	}
	pthread_mutex_unlock(&q->mu);
	return rc < 0 ? rc : wake;
}

/* gw_aq_wake wakes the loop. A loop that took the events meanwhile just
 * wakes once more for nothing. */
void gw_aq_wake(gw_aqueue *q)
{
	gw_write_efd(q->efd);
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

/* take_item returns the (conn, kind, flags, code, data) tuple of e:
 * data is the scope dict of GW_IN_HTTP and GW_IN_WS, bytes, or None.
 * New reference. */
static PyObject *take_item(gw_aevent *e, PyObject *state)
{
	PyObject *data;

	if (e->kind == GW_IN_HTTP || e->kind == GW_IN_WS)
		data = gw_asgi_scope(e->data, e->len, e->kind == GW_IN_WS, state);
	else if (e->len > 0 || e->kind == GW_IN_BODY || e->kind == GW_IN_WS_MESSAGE)
		data = PyBytes_FromStringAndSize(e->data, (Py_ssize_t)e->len);
	else
		data = Py_NewRef(Py_None);
	if (data == NULL)
		return NULL;
	return Py_BuildValue("(KiiLN)", (unsigned long long)e->conn, e->kind, e->flags,
			     (long long)e->code, data);
}

/* requeue puts the events of a take that failed back at the head of q,
 * in order, before those posted since, as old as they were. */
static void requeue(gw_aqueue *q, gw_aevent *head, int64_t since)
{
	gw_aevent *last = head;

	if (head == NULL)
		return;
	while (last->next != NULL)
		last = last->next;
	pthread_mutex_lock(&q->mu);
	last->next = q->head;
	if (q->tail == NULL)
		q->tail = last;
	q->head = head;
	q->oldest_ns = since;
	pthread_mutex_unlock(&q->mu);
}

/* _c.take(q, state): the queued events as a list of (conn, kind, flags,
 * code, data) tuples (take_item); the queue is left empty and its
 * eventfd read, so that a post from now on wakes the loop again. state
 * is the lifespan state, copied into each new scope. When the list
 * cannot be made (out of memory) it raises with every event queued
 * again, none lost: a request whose events were dropped would wait
 * forever. Loop thread, GIL held. */
static PyObject *asgi_take(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	gw_aqueue *q;
	gw_aevent *first, *e, *next;
	PyObject *list = NULL, *item;
	uint64_t count;
	int64_t since;

	(void)self;
	if (nargs != 2 || !PyDict_Check(args[1])) {
		PyErr_SetString(PyExc_TypeError, "take(q, state): state must be a dict");
		return NULL;
	}
	q = PyLong_AsVoidPtr(args[0]);
	if (q == NULL)
		return NULL;
	/* EAGAIN: woken for events a previous take already got. */
	while (read(q->efd, &count, sizeof count) < 0 && errno == EINTR)
		;
	gw_asgi_release_dead(q);
	pthread_mutex_lock(&q->mu);
	first = q->head;
	since = q->oldest_ns;
	q->head = q->tail = NULL;
	q->signalled = 0;
	q->oldest_ns = 0;
	pthread_mutex_unlock(&q->mu);

	list = PyList_New(0);
	for (e = first; e != NULL && list != NULL; e = e->next) {
		item = take_item(e, args[1]);
		if (item == NULL || PyList_Append(list, item) < 0)
			Py_CLEAR(list);
		Py_XDECREF(item);
	}
	if (list == NULL) {
		requeue(q, first, since);
		return NULL;
	}
	for (e = first; e != NULL; e = next) {
		next = e->next;
		free(e);
	}
	return list;
}

static PyMethodDef asgi_methods[] = {
	{"take", (PyCFunction)(void (*)(void))asgi_take, METH_FASTCALL, "take(q, state): the events Go queued"},
	{"out", (PyCFunction)(void (*)(void))gw_asgi_out, METH_FASTCALL, "out(...): an event for Go"},
	{NULL, NULL, 0, NULL},
};

static PyObject *asgi_mod; /* _gowsgi_asgi; created once, lives for the process */

/* install_module runs the sources srcs[0..n) as the module
 * _gowsgi_asgi, each compiled under its name in names (for tracebacks
 * and stack dumps), with _c (the functions above) in its namespace.
 * GIL held. */
static int install_module(const char *const *names, const char *const *srcs, int n)
{
	PyObject *mod = NULL, *c = NULL, *res = NULL, *dict;

	if (gw_asgi_scope_init() < 0)
		goto error;
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
	for (int i = 0; i < n; i++) {
		PyObject *code = Py_CompileString(srcs[i], names[i], Py_file_input);
		if (code == NULL)
			goto error;
		res = PyEval_EvalCode(code, dict, dict);
		Py_DECREF(code);
		if (res == NULL || gw_remember_source(names[i], srcs[i]) < 0)
			goto error;
		Py_CLEAR(res);
	}
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
int gw_asgi_prepare(gw_aqueue *q, int efd, const char *const *names, const char *const *srcs, int nsrc,
		    const char *loop, const char *lifespan, const char *app, char **loop_name, char **err)
{
	PyThreadState *ts = gw_thread_state();
	PyObject *res = NULL, *qo = NULL;
	int rc = -1;

	if (ts == NULL) {
		*err = strdup("cannot create a Python thread state for the event loop (out of memory)");
		return -1;
	}
	PyEval_RestoreThread(ts);
	if (asgi_mod == NULL && install_module(names, srcs, nsrc) < 0)
		goto out;
	qo = PyLong_FromVoidPtr(q);
	if (qo == NULL)
		goto out;
	res = PyObject_CallMethod(asgi_mod, "prepare", "Oisss", qo, efd, loop, lifespan, app);
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

/* The loop thread's state while gw_asgi_run runs; guarded by the GIL.
 * gw_asgi_running reads the context that thread runs in. */
static PyThreadState *loop_ts;

/* gw_asgi_run runs the loop prepared on this thread until GW_IN_STOP.
 * Returns 0, or -1 with *err (malloc'd traceback). */
int gw_asgi_run(char **err)
{
	PyObject *res;
	int rc = 0;

	PyEval_RestoreThread(gw_thread_state());
	loop_ts = PyThreadState_Get();
	res = PyObject_CallMethod(asgi_mod, "run", NULL);
	loop_ts = NULL;
	if (res == NULL) {
		size_t n;
		*err = gw_format_exception(&n);
		rc = -1;
	}
	Py_XDECREF(res);
	PyEval_SaveThread();
	return rc;
}

uint64_t gw_asgi_thread_ident(void)
{
	return (uint64_t)PyThread_get_thread_ident();
}

/*
 * gw_asgi_running stores in *conn the id of the connection the loop runs
 * code for (asgi_entry.py, running), read from the context the loop's
 * thread runs in: 0 when it runs none. For the --timeout log, when the
 * loop has taken no event for a while. It takes the GIL: a loop running Python
 * code lets go of it within the switch interval (5 ms), one blocked in
 * a call that keeps it (a C extension computing) only when that call
 * returns, so the caller bounds its wait. Returns 0, or -1 when there is
 * no loop or the call failed.
 */
int gw_asgi_running(uint64_t *conn)
{
	PyThreadState *ts = gw_thread_state();
	PyObject *res = NULL;
	int rc = -1;

	*conn = 0;
	if (ts == NULL)
		return -1; /* out of memory: a NULL state must not take the GIL */
	PyEval_RestoreThread(ts);
	if (asgi_mod != NULL) { /* read under the GIL, which published it */
		/* The call's arguments hold the context, which the loop's
		 * thread may leave while running() lets go of the GIL. */
		PyObject *ctx = loop_ts != NULL && loop_ts->context != NULL ? loop_ts->context : Py_None;
		res = PyObject_CallMethod(asgi_mod, "running", "(O)", ctx);
	}
	if (res != NULL) {
		unsigned long long id = PyLong_AsUnsignedLongLong(res);
		if (!PyErr_Occurred()) {
			*conn = id;
			rc = 0;
		}
	}
	PyErr_Clear(); /* the log then names no request */
	Py_XDECREF(res);
	PyEval_SaveThread();
	return rc;
}
