/*
 * asgiscope.c: the ASGI connection scope (HTTP and WebSocket specs 2.4,
 * "Connection Scope"), built in C from what Go encoded (asgiconn.go,
 * encodeScope) when the loop takes the event: interned keys, the
 * version dicts and common methods shared, and no Python code run per
 * field. Loop thread, GIL held.
 */
#include "asgiq.h"
#include <string.h>

enum {
	K_TYPE, K_ASGI, K_HTTP_VERSION, K_SCHEME, K_PATH, K_RAW_PATH, K_QUERY_STRING, K_ROOT_PATH,
	K_HEADERS, K_CLIENT, K_SERVER, K_METHOD, K_EXTENSIONS, K_STATE, K_PATHSEND, K_TRAILERS,
	K_ZEROCOPY, K_WS_RESPONSE, K_COUNT
};
static const char *const key_names[K_COUNT] = {
	"type", "asgi", "http_version", "scheme", "path", "raw_path", "query_string", "root_path",
	"headers", "client", "server", "method", "extensions", "state", "http.response.pathsend",
	"http.response.trailers", "http.response.zerocopysend", "websocket.http.response",
};
static PyObject *keys[K_COUNT];

/* Values that recur: a field equal to one of these gets the shared str. */
static const char *const common_names[] = {
	"http", "websocket", "1.1", "1.0", "2", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH",
	"OPTIONS", "https", "ws", "wss", "",
};
#define N_COMMON (sizeof common_names / sizeof common_names[0])
static PyObject *common[N_COMMON];

static PyObject *asgi_http; /* {"version": "3.0", "spec_version": "2.4"}, shared as before */

/* gw_asgi_scope_init creates the shared objects once. -1 with an exception. */
int gw_asgi_scope_init(void)
{
	if (asgi_http != NULL)
		return 0;
	for (int i = 0; i < K_COUNT; i++)
		if ((keys[i] = PyUnicode_InternFromString(key_names[i])) == NULL)
			return -1;
	for (size_t i = 0; i < N_COMMON; i++)
		if ((common[i] = PyUnicode_InternFromString(common_names[i])) == NULL)
			return -1;
	asgi_http = Py_BuildValue("{ssss}", "version", "3.0", "spec_version", "2.4");
	return asgi_http == NULL ? -1 : 0;
}

/* A cursor over the encoded scope: [u32 length][bytes] fields. */
typedef struct {
	const char *p, *end;
} cursor;

/* field sets *s, *n to the next field; -1 with ValueError past the end. */
static int field(cursor *c, const char **s, size_t *n)
{
	uint32_t m;

	if (c->end - c->p < 4)
		goto bad;
	memcpy(&m, c->p, 4);
	if ((size_t)(c->end - c->p - 4) < m)
		goto bad;
	*s = c->p + 4;
	*n = m;
	c->p += 4 + m;
	return 0;
bad:
	PyErr_SetString(PyExc_ValueError, "a truncated ASGI scope from Go");
	return -1;
}

/* ascii_str returns a new reference to s[:n] as str, shared when common. */
static PyObject *ascii_str(const char *s, size_t n)
{
	for (size_t i = 0; i < N_COMMON; i++)
		if (strlen(common_names[i]) == n && memcmp(common_names[i], s, n) == 0)
			return Py_NewRef(common[i]);
	return PyUnicode_DecodeASCII(s, (Py_ssize_t)n, "replace");
}

/* address returns (host, port), (path, None) for a unix socket, or None
 * when the host is unknown (Uvicorn's forms). New reference. */
static PyObject *address(cursor *c)
{
	const char *h, *p;
	size_t hn, pn;
	PyObject *host, *port;
	long v = 0;

	if (field(c, &h, &hn) < 0 || field(c, &p, &pn) < 0)
		return NULL;
	if (hn == 0)
		Py_RETURN_NONE;
	for (size_t i = 0; i < pn; i++) {
		if (p[i] < '0' || p[i] > '9' || i > 9) {
			PyErr_SetString(PyExc_ValueError, "a bad port in an ASGI scope from Go");
			return NULL;
		}
		v = v * 10 + (p[i] - '0');
	}
	host = PyUnicode_DecodeUTF8(h, (Py_ssize_t)hn, "surrogateescape");
	if (host == NULL)
		return NULL;
	port = pn > 0 ? PyLong_FromLong(v) : Py_NewRef(Py_None);
	PyObject *t = port == NULL ? NULL : PyTuple_New(2);
	if (t == NULL) {
		Py_DECREF(host);
		Py_XDECREF(port);
		return NULL;
	}
	PyTuple_SET_ITEM(t, 0, host);
	PyTuple_SET_ITEM(t, 1, port);
	return t;
}

/* set stores v (a new reference, consumed; NULL: an error pending) as
 * scope[keys[k]]. */
static int set(PyObject *scope, int k, PyObject *v)
{
	int rc;

	if (v == NULL)
		return -1;
	rc = PyDict_SetItem(scope, keys[k], v);
	Py_DECREF(v);
	return rc;
}

/* headers returns the list of (name, value) bytes pairs. New reference. */
static PyObject *headers(cursor *c)
{
	const char *s;
	size_t n;
	uint32_t count;
	PyObject *list;

	if (field(c, &s, &n) < 0)
		return NULL;
	if (n != 4) {
		PyErr_SetString(PyExc_ValueError, "a bad header count in an ASGI scope from Go");
		return NULL;
	}
	memcpy(&count, s, 4);
	if (count > (size_t)(c->end - c->p) / 8) {
		PyErr_SetString(PyExc_ValueError, "a truncated ASGI scope from Go");
		return NULL;
	}
	list = PyList_New(count);
	if (list == NULL)
		return NULL;
	for (uint32_t i = 0; i < count; i++) {
		const char *k, *v;
		size_t kn, vn;
		PyObject *pair;

		if (field(c, &k, &kn) < 0 || field(c, &v, &vn) < 0 || (pair = PyTuple_New(2)) == NULL)
			goto error;
		PyList_SET_ITEM(list, i, pair);
		PyObject *name = PyBytes_FromStringAndSize(k, (Py_ssize_t)kn);
		if (name == NULL)
			goto error;
		PyTuple_SET_ITEM(pair, 0, name);
		PyObject *value = PyBytes_FromStringAndSize(v, (Py_ssize_t)vn);
		if (value == NULL)
			goto error;
		PyTuple_SET_ITEM(pair, 1, value);
	}
	return list;
error:
	Py_DECREF(list); /* NULL items and tuple slots are allowed in dealloc */
	return NULL;
}

/* extensions returns the scope's "extensions": for http, pathsend and
 * zerocopysend (Go sends the file with sendfile) and trailers (after the
 * last chunk); for websocket, the denial response (websocket.http.response,
 * which frameworks look for before they send one: Starlette raises,
 * Quart closes with a bare 403, when it is missing). A new dict each
 * time: an app may change it. */
static PyObject *extensions(int ws)
{
	static const int http_names[] = {K_PATHSEND, K_ZEROCOPY, K_TRAILERS};
	static const int ws_names[] = {K_WS_RESPONSE};
	const int *names = ws ? ws_names : http_names;
	size_t count = ws ? sizeof ws_names / sizeof ws_names[0] : sizeof http_names / sizeof http_names[0];
	PyObject *ext = PyDict_New();

	for (size_t i = 0; ext != NULL && i < count; i++) {
		PyObject *empty = PyDict_New();
		if (empty == NULL || PyDict_SetItem(ext, keys[names[i]], empty) < 0)
			Py_CLEAR(ext);
		Py_XDECREF(empty);
	}
	return ext;
}

/*
 * gw_asgi_scope returns a new reference to the scope Go encoded in
 * data[:len] (asgiconn.go, encodeScope), of type "websocket" when ws,
 * else "http", with "state" a shallow copy of state (a dict); NULL with
 * an exception. A WebSocket scope's "subprotocols" are asgi.py's.
 */
PyObject *gw_asgi_scope(const char *data, size_t len, int ws, PyObject *state)
{
	cursor c = {data, data + len};
	const char *f[7];
	size_t n[7];
	PyObject *scope;

	for (int i = 0; i < 7; i++)
		if (field(&c, &f[i], &n[i]) < 0)
			return NULL;
	scope = PyDict_New();
	if (scope == NULL)
		return NULL;
	/* http_version, method, scheme, path, raw_path, query, root_path */
	if (set(scope, K_TYPE, Py_NewRef(common[ws ? 1 : 0])) < 0 ||
	    set(scope, K_ASGI, Py_NewRef(asgi_http)) < 0 ||
	    set(scope, K_HTTP_VERSION, ascii_str(f[0], n[0])) < 0 ||
	    set(scope, K_SCHEME, ascii_str(f[2], n[2])) < 0 ||
	    set(scope, K_PATH, PyUnicode_DecodeUTF8(f[3], (Py_ssize_t)n[3], "replace")) < 0 ||
	    set(scope, K_RAW_PATH, PyBytes_FromStringAndSize(f[4], (Py_ssize_t)n[4])) < 0 ||
	    set(scope, K_QUERY_STRING, PyBytes_FromStringAndSize(f[5], (Py_ssize_t)n[5])) < 0 ||
	    set(scope, K_ROOT_PATH, PyUnicode_DecodeUTF8(f[6], (Py_ssize_t)n[6], "replace")) < 0 ||
	    set(scope, K_CLIENT, address(&c)) < 0 || set(scope, K_SERVER, address(&c)) < 0 ||
	    set(scope, K_HEADERS, headers(&c)) < 0 || set(scope, K_STATE, PyDict_Copy(state)) < 0 ||
	    set(scope, K_EXTENSIONS, extensions(ws)) < 0)
		goto error;
	if (!ws && set(scope, K_METHOD, ascii_str(f[1], n[1])) < 0)
		goto error;
	return scope;
error:
	Py_DECREF(scope);
	return NULL;
}
