/*
 * asgiout.c: what the app sends, on its way to Go. _c.out appends each
 * event as a gw_orec record (asgi.h) to the queue's out buffer, on the
 * loop's thread with the GIL held, and never calls into Go: a cgo
 * callback from the loop's thread must get a Go P first, and with one P
 * (a worker pinned to one CPU) it waits for the connections' goroutines
 * to give it up, every event. Instead, an event that finds Go told of
 * everything it has taken writes the out eventfd, which Go's poller
 * waits on, and Go takes the whole buffer at once (gw_oq_take): what
 * the loop sends meanwhile joins the batch without another wake-up, and
 * nothing the app sent waits for the loop's turn to end (an app that
 * computes after a send() without yielding), as a transport would write
 * it at once.
 */
#include "asgiq.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Bodies longer than this go out of line, in a block of their own: the
 * buffer then grows by records, not by the bodies of a whole turn. */
#define GW_OREC_INLINE 4096
/* A drained out buffer bigger than this is freed rather than kept. */
#define GW_OBUF_KEEP (1 << 20)

void gw_write_efd(int fd)
{
	uint64_t one = 1;

	/* EAGAIN only when the counter is at its maximum: awake anyway. */
	while (write(fd, &one, sizeof one) < 0 && errno == EINTR)
		;
}

static size_t rec_size(const gw_orec *r)
{
	size_t n = sizeof *r + r->head_len + r->text_len + (r->body_ptr == NULL ? r->body_len : 0);

	return (n + 7) & ~(size_t)7;
}

/* free_bodies frees the out-of-line bodies of b's records; the bytes
 * objects among them go to q->dead, for the loop to release. omu held. */
static void free_bodies(gw_aqueue *q, gw_obuf *b)
{
	size_t off = 0;

	while (off < b->len) {
		gw_orec *r = (gw_orec *)(b->b + off);
		if (r->body_obj == NULL) {
			free(r->body_ptr);
		} else {
			if (q->ndead == q->capdead) {
				size_t cap = q->capdead ? 2 * q->capdead : 64;
				PyObject **nd = realloc(q->dead, cap * sizeof *nd);
				if (nd == NULL)
					goto next; /* out of memory: the object leaks */
				q->dead = nd;
				q->capdead = cap;
			}
			q->dead[q->ndead++] = r->body_obj;
		}
	next:
		off += rec_size(r);
	}
}

/* release_dead drops the bytes objects Go is through with. Loop thread,
 * GIL held. */
static void release_dead(gw_aqueue *q)
{
	PyObject **dead;
	size_t n;

	pthread_mutex_lock(&q->omu);
	dead = q->dead;
	n = q->ndead;
	q->dead = NULL;
	q->ndead = q->capdead = 0;
	pthread_mutex_unlock(&q->omu);
	for (size_t i = 0; i < n; i++)
		Py_DECREF(dead[i]);
	free(dead);
}

/* reserve makes room for n more bytes at b->len. omu held. */
static int reserve(gw_obuf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 16384;
	char *nb;

	if (b->len + n <= b->cap)
		return 0;
	while (cap < b->len + n)
		cap *= 2;
	nb = realloc(b->b, cap);
	if (nb == NULL)
		return -1;
	b->b = nb;
	b->cap = cap;
	return 0;
}

/*
 * gw_oq_take returns the records the app sent since the last take and
 * their length in *len. They stay valid until gw_oq_done: calls must
 * not overlap. No GIL; Go's dispatcher.
 */
char *gw_oq_take(gw_aqueue *q, size_t *len)
{
	gw_obuf done = q->spare;

	pthread_mutex_lock(&q->omu);
	free_bodies(q, &done); /* left by a take without gw_oq_done: none today */
	done.len = 0;
	if (done.cap > GW_OBUF_KEEP) {
		free(done.b);
		done.b = NULL;
		done.cap = 0;
	}
	q->spare = q->out;
	q->out = done;
	q->out_signalled = 0;
	pthread_mutex_unlock(&q->omu);
	*len = q->spare.len;
	return q->spare.b;
}

/*
 * gw_oq_done frees the out-of-line bodies of the last take's records,
 * which Go has copied, and returns 1 when bytes objects now wait for the
 * loop to release them (release_dead, at its next take): Go
 * then wakes it, so that an idle loop does not keep the last big bodies
 * it sent alive. No GIL; Go's dispatcher, after gw_oq_take.
 */
int gw_oq_done(gw_aqueue *q)
{
	int dead;

	pthread_mutex_lock(&q->omu);
	free_bodies(q, &q->spare);
	q->spare.len = 0;
	dead = q->ndead > 0;
	pthread_mutex_unlock(&q->omu);
	return dead;
}

/* gw_asgi_release_dead is release_dead for asgi.c's take. */
void gw_asgi_release_dead(gw_aqueue *q)
{
	release_dead(q);
}

void gw_oq_free(gw_aqueue *q)
{
	free_bodies(q, &q->out);
	free_bodies(q, &q->spare);
	if (q->ndead > 0) {
		PyEval_RestoreThread(gw_thread_state());
		release_dead(q);
		PyEval_SaveThread();
	}
	free(q->dead);
	free(q->out.b);
	free(q->spare.b);
	q->out.b = q->spare.b = NULL;
	q->out.len = q->spare.len = q->out.cap = q->spare.cap = 0;
}

/* flush_now writes the out eventfd if records wait and Go was not told
 * since its last take. */
static void flush_now(gw_aqueue *q)
{
	int wake;

	pthread_mutex_lock(&q->omu);
	wake = q->out.len > 0 && !q->out_signalled;
	if (wake)
		q->out_signalled = 1;
	pthread_mutex_unlock(&q->omu);
	if (wake)
		gw_write_efd(q->ofd);
}

/* A header list being copied: the pairs as fast sequences, held until
 * the record is written, so that no Python code (an iterator's) runs
 * while the out buffer's mutex is held. */
typedef struct {
	PyObject *small[16];
	PyObject **pairs; /* small, or malloc'd */
	Py_ssize_t n;
	size_t bytes; /* the encoded length */
	size_t cost;  /* names and values */
} gw_heads;

static void heads_clear(gw_heads *h)
{
	for (Py_ssize_t i = 0; i < h->n; i++)
		Py_DECREF(h->pairs[i]);
	if (h->pairs != h->small)
		free(h->pairs);
	h->n = 0;
}

/* heads_load checks headers (a list of two-item sequences of bytes) and
 * holds them in h. Returns 0, or -1 with an exception (h cleared). */
static int heads_load(gw_heads *h, PyObject *headers)
{
	Py_ssize_t n;

	h->pairs = h->small;
	h->n = 0;
	h->bytes = h->cost = 0;
	if (!PyList_Check(headers)) {
		PyErr_SetString(PyExc_TypeError, "ASGI headers must be an iterable of [name, value] pairs");
		return -1;
	}
	n = PyList_GET_SIZE(headers);
	if (n > (Py_ssize_t)(sizeof h->small / sizeof h->small[0])) {
		h->pairs = malloc(sizeof(PyObject *) * (size_t)n);
		if (h->pairs == NULL) {
			PyErr_NoMemory();
			return -1;
		}
	}
	/* Two passes: PySequence_Fast may run Python code (a pair that is
	 * an iterator, or a collection's finalizer), which may change a pair
	 * already loaded (a list is held as itself); the pairs are checked
	 * and measured once no more Python code can run before heads_write,
	 * so that it writes exactly h->bytes of bytes objects. */
	for (Py_ssize_t i = 0; i < n && i < PyList_GET_SIZE(headers); i++) {
		PyObject *fast = PySequence_Fast(PyList_GET_ITEM(headers, i),
						 "an ASGI header must be a [name, value] pair");
		if (fast == NULL)
			goto error;
		h->pairs[h->n++] = fast;
	}
	for (Py_ssize_t i = 0; i < h->n; i++) {
		PyObject *fast = h->pairs[i];
		if (PySequence_Fast_GET_SIZE(fast) != 2) {
			PyErr_SetString(PyExc_TypeError, "an ASGI header must be a [name, value] pair");
			goto error;
		}
		for (int k = 0; k < 2; k++) {
			PyObject *v = PySequence_Fast_GET_ITEM(fast, k);
			if (!PyBytes_Check(v)) {
				PyErr_Format(PyExc_TypeError, "ASGI header %s must be bytes, not %.100s",
					     k ? "values" : "names", Py_TYPE(v)->tp_name);
				goto error;
			}
			size_t m = (size_t)PyBytes_GET_SIZE(v);
			if (m > UINT32_MAX / 2 || h->bytes + 4 + m > UINT32_MAX) {
				PyErr_SetString(PyExc_ValueError, "ASGI headers too long");
				goto error;
			}
			h->bytes += 4 + m;
			h->cost += m;
		}
	}
	return 0;
error:
	heads_clear(h);
	return -1;
}

/* heads_write encodes h at p: [u32 len][name][u32 len][value] records,
 * native byte order. */
static void heads_write(const gw_heads *h, char *p)
{
	for (Py_ssize_t i = 0; i < h->n; i++) {
		for (int k = 0; k < 2; k++) {
			PyObject *v = PySequence_Fast_GET_ITEM(h->pairs[i], k);
			uint32_t m = (uint32_t)PyBytes_GET_SIZE(v);
			memcpy(p, &m, 4);
			memcpy(p + 4, PyBytes_AS_STRING(v), m);
			p += 4 + m;
		}
	}
}

/*
 * _c.out(q, conn, kind, status, headers, body, flags, text) queues one
 * event for Go and returns its cost: the bytes of header names, values
 * and body, which count against the connection's budget until Go
 * credits them back (IN_WRITABLE); a zerocopysend region, whose bytes
 * Go reads from the file, GW_ZEROCOPY_COST. headers is a list or None, body
 * bytes-like or None, text str or None. Loop thread, GIL held.
 */
PyObject *gw_asgi_out(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	gw_aqueue *q;
	gw_orec rec = {0};
	gw_heads heads = {.n = 0};
	Py_buffer body = {0};
	const char *text = NULL;
	Py_ssize_t text_len = 0;
	char *body_ptr = NULL;
	PyObject *res = NULL;
	int have_heads = 0;

	(void)self;
	if (nargs != 8) {
		PyErr_SetString(PyExc_TypeError, "out takes 8 arguments");
		return NULL;
	}
	q = PyLong_AsVoidPtr(args[0]);
	rec.conn = PyLong_AsUnsignedLongLong(args[1]);
	rec.kind = PyLong_AsLong(args[2]);
	rec.status = PyLong_AsLong(args[3]);
	rec.flags = PyLong_AsLong(args[6]);
	if (PyErr_Occurred())
		return NULL;
	if (args[5] != Py_None && PyObject_GetBuffer(args[5], &body, PyBUF_SIMPLE) < 0)
		goto out;
	if (args[7] != Py_None) {
		text = PyUnicode_AsUTF8AndSize(args[7], &text_len);
		if (text == NULL)
			goto out;
		if ((size_t)text_len > UINT32_MAX) {
			PyErr_SetString(PyExc_ValueError, "an ASGI text field is too long");
			goto out;
		}
		rec.text_len = (uint32_t)text_len;
	}
	/* The headers last: no Python code may run between heads_load and
	 * heads_write (a body's __buffer__ could change them). */
	if (args[4] != Py_None) {
		if (heads_load(&heads, args[4]) < 0)
			goto out;
		have_heads = 1;
		rec.nheaders = (uint32_t)heads.n;
		rec.head_len = (uint32_t)heads.bytes;
	}
	rec.body_len = (uint64_t)body.len;
	rec.cost = heads.cost + (uint64_t)body.len;
	if (rec.kind == GW_OUT_ZEROCOPY)
		rec.cost += GW_ZEROCOPY_COST;
	if (body.len > GW_OREC_INLINE && PyBytes_CheckExact(args[5])) {
		/* Immutable: Go copies straight from it, and the reference is
		 * dropped once it has (release_dead). */
		rec.body_ptr = PyBytes_AS_STRING(args[5]);
		rec.body_obj = Py_NewRef(args[5]);
	} else if (body.len > GW_OREC_INLINE) {
		body_ptr = malloc((size_t)body.len);
		if (body_ptr == NULL) {
			PyErr_NoMemory();
			goto out;
		}
		memcpy(body_ptr, body.buf, (size_t)body.len);
		rec.body_ptr = body_ptr;
	}

	size_t size = rec_size(&rec);
	pthread_mutex_lock(&q->omu);
	if (reserve(&q->out, size) < 0) {
		pthread_mutex_unlock(&q->omu);
		Py_XDECREF(rec.body_obj);
		PyErr_NoMemory();
		goto out;
	}
	char *p = q->out.b + q->out.len;
	memcpy(p, &rec, sizeof rec);
	p += sizeof rec;
	heads_write(&heads, p);
	p += rec.head_len;
	if (rec.body_ptr == NULL && body.len > 0) {
		memcpy(p, body.buf, (size_t)body.len);
		p += body.len;
	}
	if (text_len > 0)
		memcpy(p, text, (size_t)text_len);
	q->out.len += size;
	pthread_mutex_unlock(&q->omu);
	body_ptr = NULL; /* the record owns it */

	flush_now(q);
	res = PyLong_FromUnsignedLongLong(rec.cost);
out:
	free(body_ptr);
	if (body.obj != NULL)
		PyBuffer_Release(&body);
	if (have_heads)
		heads_clear(&heads);
	return res;
}
