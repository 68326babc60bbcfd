/*
 * exchange.c: one WSGI request/response exchange: calling the app,
 * iterating its result into the caller's buffer, and close().
 *
 * An exchange that finishes within gw_call lives on the C stack; one
 * whose response has more to produce (a big chunk or a file Go must
 * write first, or a full buffer) moves to the heap and continues with
 * gw_next.
 */
#include "internal.h"
#include <string.h>

/* Chunks at least this big are written by Go straight from the bytes
 * object instead of being copied into the out buffer. */
#define BIG_CHUNK 16384

/* file_state of an exchange whose result is a wsgi.file_wrapper */
enum { FILE_NONE, FILE_PENDING, FILE_SENT };

struct gw_exchange {
	StartResponse *sr;
	PyObject *result;  /* the app's return value */
	PyObject *iter;    /* NULL when result is an exact list/tuple walked by index */
	Py_ssize_t index;
	Py_ssize_t wpos;   /* next item of sr->written to send */
	PyObject *pending; /* the next chunk: it did not fit the last buffer */
	PyObject *deferred;/* an iterator chunk that arrived after write() data */
	PyObject *held;    /* the big chunk Go writes from; dropped on the next call */
	PyObject *input;   /* wsgi.input, detached at the end */
	PyObject *errors;  /* wsgi.errors (borrowed from the slot), flushed at the end */
	PyObject *sock;    /* environ["gunicorn.socket"], when offered */
	int file_state;    /* the result is sent as a file region by Go */
	int file_fd;
	int64_t file_off, file_len;
};

static PyObject *app;          /* the WSGI callable */
static PyObject *file_wrapper; /* _gowsgi.FileWrapper */
static PyObject *file_region;  /* _gowsgi.file_region */

int gw_exchange_init_types(void)
{
	if (gw_startresp_init() < 0 || gw_input_init() < 0 || gw_errors_init() < 0)
		return -1;
	return 0;
}

/* gw_exchange_bind caches what load_app left in _gowsgi. Returns -1
 * with the exception of the first lookup that failed: no CPython call
 * runs while an earlier one's exception is pending. GIL held. */
int gw_exchange_bind(void)
{
	if ((app = PyObject_GetAttrString(gw_bootstrap, "app")) == NULL ||
	    (file_wrapper = PyObject_GetAttrString(gw_bootstrap, "FileWrapper")) == NULL ||
	    (file_region = PyObject_GetAttrString(gw_bootstrap, "file_region")) == NULL ||
	    gw_client_socket_bind() < 0)
		return -1;
	return gw_environ_bind();
}

/* no_thread_state fills res for a call that could not take the GIL:
 * PyThreadState_New failed (it only fails when memory is exhausted),
 * and a NULL thread state must never reach PyEval_RestoreThread. No
 * Python code ran, so there is no traceback, only this text. */
static void no_thread_state(gw_result *res)
{
	static const char msg[] = "gowsgi: cannot create a Python thread state for this "
				  "OS thread (out of memory); the request was not run";

	res->flags |= GW_ERROR;
	res->err = malloc(sizeof msg);
	if (res->err != NULL) {
		memcpy(res->err, msg, sizeof msg);
		res->err_len = sizeof msg - 1;
	}
}

/* next_chunk returns a new reference to the next body chunk, or NULL at
 * the end (no error set) or on error. Order: a chunk put back, data
 * from write(), a chunk that arrived behind write() data, the iterable.
 * A file region is not a chunk: it ends the chunks. */
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
	if (x->file_state != FILE_NONE)
		return NULL;
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

/* would_iterate reports whether the next chunk must come from the app's
 * iterator, which may take any time to produce it. */
static int would_iterate(gw_exchange *x)
{
	PyObject *w = x->sr->written;

	return x->iter != NULL && x->file_state == FILE_NONE && x->pending == NULL &&
	       x->deferred == NULL && (w == NULL || x->wpos >= PyList_GET_SIZE(w));
}

/* close_result calls the iterable's close() exactly once (PEP 3333) and
 * drops every reference the exchange holds. Returns -1 with the error
 * set if close() raised. */
static int close_result(gw_exchange *x)
{
	int rc = 0;
	PyObject *r = x->result;
	PyObject *type = NULL, *value = NULL, *tb = NULL;

	if (r != NULL && !PyList_CheckExact(r) && !PyTuple_CheckExact(r) && !PyBytes_CheckExact(r)) {
		PyObject *close = PyObject_GetAttr(r, gw_str_close);
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
	/* The references dropped below may run arbitrary code (__del__, a
	 * generator's finally, the errors stream's flush): set close()'s
	 * exception aside so none of it runs with an exception pending,
	 * and put it back for the caller to format. */
	if (rc < 0)
		PyErr_Fetch(&type, &value, &tb);
	gw_input_detach(x->input);
	gw_errors_flush(x->errors);
	Py_CLEAR(x->input);
	Py_CLEAR(x->iter);
	Py_CLEAR(x->result);
	Py_CLEAR(x->pending);
	Py_CLEAR(x->deferred);
	Py_CLEAR(x->held);
	Py_CLEAR(x->sr);
	gw_client_socket_release(&x->sock);
	if (rc < 0) {
		if (PyErr_Occurred())
			PyErr_WriteUnraisable(NULL); /* keep close()'s: it is the app's */
		PyErr_Restore(type, value, tb);
	}
	return rc;
}

/* take_over ends an exchange whose app used the client socket: it
 * spoke its own protocol on it, so nothing of what it returned is sent.
 * StopIteration, Gunicorn's "close the connection and write nothing"
 * (Flask-Sock raises it), is no error; anything else it raised is
 * reported for the log. */
static void take_over(gw_exchange *x, int failed, gw_result *res)
{
	res->flags |= GW_TAKEN | GW_DONE;
	if (failed) {
		if (PyErr_ExceptionMatches(PyExc_StopIteration))
			PyErr_Clear();
		else
			res->err = gw_format_exception(&res->err_len);
	}
	if (close_result(x) < 0) {
		if (res->err == NULL)
			res->err = gw_format_exception(&res->err_len);
		else
			PyErr_Clear();
	}
}

static void fail(gw_exchange *x, gw_result *res)
{
	res->flags |= GW_ERROR | GW_DONE;
	res->err = gw_format_exception(&res->err_len);
	if (close_result(x) < 0)
		PyErr_Clear(); /* the first traceback is the one worth logging */
}

/*
 * take_file_region asks _gowsgi.file_region whether the result, a
 * wsgi.file_wrapper, wraps a regular file Go can send with sendfile(2)
 * from its current position. Returns 1 if so, 0 if it must be iterated,
 * -1 on error.
 */
static int take_file_region(gw_exchange *x)
{
	PyObject *r = PyObject_CallOneArg(file_region, x->result);
	int fd;
	long long off, len;

	if (r == NULL)
		return -1;
	if (r == Py_None) {
		Py_DECREF(r);
		return 0;
	}
	if (!PyArg_ParseTuple(r, "iLL:file_region", &fd, &off, &len)) {
		Py_DECREF(r);
		return -1;
	}
	Py_DECREF(r);
	x->file_fd = fd;
	x->file_off = off;
	x->file_len = len;
	x->file_state = len > 0 ? FILE_PENDING : FILE_SENT;
	return 1;
}

/* start_body emits the head before the first body bytes, or at the end
 * of a body-less response; pos is where the body starts. */
static int start_body(gw_exchange *x, char *out, size_t cap, gw_result *res, size_t *pos)
{
	if (x->sr->headers_sent)
		return 0;
	if (gw_emit_head(x->sr, out, cap, res) < 0)
		return -1;
	*pos = res->body_off = res->head_len;
	return 0;
}

/*
 * pump fills out with the head (once) and as much body as fits, stops
 * at a big chunk or a file region, and closes the iterable at its end.
 * It never asks the app's iterator for more while it holds body bytes:
 * PEP 3333 ("Buffering and Streaming") forbids delaying a block while
 * the app computes the next, which may take any time (a generator that
 * waits for events). The chunks of a list or tuple, or written with
 * write(), are all there already, so they go out together. GIL held.
 */
static void pump(gw_exchange *x, char *out, size_t cap, gw_result *res)
{
	size_t pos = 0;
	PyObject *item;

	Py_CLEAR(x->held);
	for (;;) {
		Py_ssize_t n;

		if (pos > res->body_off && would_iterate(x)) {
			res->body_len = (uint32_t)(pos - res->body_off);
			return; /* send what we have before the app computes more */
		}
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
		if (start_body(x, out, cap, res, &pos) < 0) {
			Py_DECREF(item);
			goto error;
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
	if (start_body(x, out, cap, res, &pos) < 0)
		goto error;
	res->body_len = (uint32_t)(pos - res->body_off);
	if (x->file_state == FILE_PENDING) {
		/* Go sends the region, then calls gw_next, which closes. */
		x->file_state = FILE_SENT;
		res->flags |= GW_FILE;
		res->file_fd = x->file_fd;
		res->file_off = x->file_off;
		res->file_len = x->file_len;
		return;
	}
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

/* start calls the app and prepares to walk its result. Returns -1 with
 * an exception on failure. hook, when set, is where write() sends its
 * blocks while the app runs. */
static int start(gw_slot *s, gw_exchange *x, const char *env, size_t env_len,
		 const char *body, size_t body_len, int body_fd, int sock_fd, gw_slot *hook)
{
	PyObject *environ, *args[2];
	int is_file;

	if (s->errors == NULL && (s->errors = gw_errors_new(s->ctx)) == NULL)
		return -1;
	x->errors = s->errors;
	if ((x->sr = gw_startresp_new()) == NULL)
		return -1;
	x->input = body_fd >= 0 ? gw_file_input(body_fd) : gw_input_new(body, body_len);
	if (x->input == NULL)
		return -1;
	environ = gw_build_environ(env, env_len, x->input, x->errors);
	if (environ == NULL)
		return -1;
	if (sock_fd >= 0 && (x->sock = gw_client_socket_offer(environ, sock_fd)) == NULL) {
		Py_DECREF(environ);
		return -1;
	}
	args[0] = environ;
	args[1] = (PyObject *)x->sr;
	x->sr->hook = hook;
	gw_startresp_running(hook != NULL ? x->sr : NULL);
	x->result = PyObject_Vectorcall(app, args, 2, NULL);
	gw_startresp_running(NULL);
	x->sr->hook = NULL; /* later write() data goes out with the steps */
	Py_DECREF(environ);
	if (x->result == NULL)
		return -1;
	if (PyList_CheckExact(x->result) || PyTuple_CheckExact(x->result))
		return 0;
	if (Py_IS_TYPE(x->result, (PyTypeObject *)file_wrapper)) {
		if ((is_file = take_file_region(x)) != 0)
			return is_file;
	}
	x->iter = PyObject_GetIter(x->result);
	return x->iter != NULL ? 0 : -1;
}

/* enter marks w while the calling thread takes the GIL for a call
 * (GW_STAGE_WAITING) and once it holds it (GW_STAGE_RUNNING); leave
 * after it gave it back. The thread is stored first, so a reader that
 * sees a stage other than GW_STAGE_OUT sees the thread too. */
static void enter(gw_where *w, int32_t stage)
{
	if (stage == GW_STAGE_WAITING)
		__atomic_store_n(&w->thread, (uint64_t)PyThread_get_thread_ident(), __ATOMIC_RELAXED);
	__atomic_store_n(&w->stage, stage, __ATOMIC_RELEASE);
}

static void leave(gw_where *w)
{
	__atomic_store_n(&w->stage, GW_STAGE_OUT, __ATOMIC_RELEASE);
}

/*
 * gw_call runs the app for one request: environ, app(environ,
 * start_response), and as much of the response as fits in out. Called
 * without the GIL from any thread.
 */
int gw_call(gw_slot *s, gw_where *w, const char *env, size_t env_len, const char *body,
	    size_t body_len, int body_fd, int write_hook, int sock_fd, char *out, size_t out_cap,
	    gw_result *res)
{
	PyThreadState *ts = gw_thread_state();
	gw_exchange x;
	int rc;

	memset(res, 0, sizeof *res);
	memset(&x, 0, sizeof x);
	if (ts == NULL) {
		res->flags |= GW_DONE; /* nothing was started: nothing to close */
		no_thread_state(res);
		return -1;
	}
	enter(w, GW_STAGE_WAITING);
	PyEval_RestoreThread(ts);
	enter(w, GW_STAGE_RUNNING);
	if (write_hook) {
		s->tstate = PyThreadState_Get();
		s->out = out, s->cap = out_cap, s->res = res;
	}
	rc = start(s, &x, env, env_len, body, body_len, body_fd, sock_fd, write_hook ? s : NULL);
	memset(res, 0, sizeof *res); /* the hook may have used it */
	if (x.sock != NULL && gw_client_socket_used(x.sock)) {
		take_over(&x, rc < 0, res);
	} else if (rc < 0) {
		fail(&x, res);
	} else {
		pump(&x, out, out_cap, res);
		park(&x, res);
	}
	PyEval_SaveThread();
	leave(w);
	return (res->flags & GW_ERROR) ? -1 : 0;
}

/* gw_next continues a parked exchange; it is freed once done. Without
 * a thread state it fails and leaves the exchange open (res->exch): it
 * cannot be closed without the GIL, and wsgi.input may still point at
 * the caller's body, which must stay pinned. */
int gw_next(gw_where *w, gw_exchange *x, char *out, size_t out_cap, gw_result *res)
{
	PyThreadState *ts = gw_thread_state();

	memset(res, 0, sizeof *res);
	res->exch = x;
	if (ts == NULL) {
		no_thread_state(res);
		return -1;
	}
	enter(w, GW_STAGE_WAITING);
	PyEval_RestoreThread(ts);
	enter(w, GW_STAGE_RUNNING);
	pump(x, out, out_cap, res);
	if (res->flags & GW_DONE) {
		PyMem_RawFree(x);
		res->exch = NULL;
	}
	PyEval_SaveThread();
	leave(w);
	return (res->flags & GW_ERROR) ? -1 : 0;
}

/* gw_abort ends a parked exchange early (client gone, bad headers):
 * close() is still called exactly once. */
void gw_abort(gw_where *w, gw_exchange *x, gw_result *res)
{
	PyThreadState *ts = gw_thread_state();

	memset(res, 0, sizeof *res);
	if (ts == NULL) {
		res->exch = x; /* still open, as in gw_next */
		no_thread_state(res);
		return;
	}
	enter(w, GW_STAGE_WAITING);
	PyEval_RestoreThread(ts);
	enter(w, GW_STAGE_RUNNING);
	if (close_result(x) < 0)
		res->err = gw_format_exception(&res->err_len);
	res->flags = GW_DONE;
	PyMem_RawFree(x);
	PyEval_SaveThread();
	leave(w);
}
