/*
 * environ.c: the environ dict of a request, decoded from the encoding
 * package wsgi builds (see gw_build_environ), with the well-known keys
 * interned once.
 */
#include "internal.h"
#include <string.h>
#include <unistd.h>

static PyObject *base_environ; /* constant wsgi.* keys, copied per request */
static PyObject *file_input;   /* _gowsgi.file_input */
static PyObject *key_wsgi_input, *key_wsgi_errors;
static PyObject **environ_keys; /* interned keys, id 1..n_environ_keys */
static int n_environ_keys;

/* set_err stores a fixed message in *err as malloc'd text, the way
 * gw_format_exception returns a traceback, for failures that raise no
 * Python exception. */
static void set_err(char **err, const char *msg)
{
	size_t n = strlen(msg) + 1;

	if ((*err = malloc(n)) != NULL)
		memcpy(*err, msg, n);
}

/*
 * gw_set_environ_keys interns the well-known environ keys; the Go side
 * refers to key i as id i+1. On failure *err says why (malloc'd) and
 * the keys interned by an earlier call stay in place: the new table is
 * only published once it is complete. GIL held (main thread, before
 * release; or gw_adopt).
 */
int gw_set_environ_keys(const char *const *keys, int n, char **err)
{
	PyObject **table;
	size_t len;

	table = PyMem_RawCalloc((size_t)n, sizeof(PyObject *));
	if (table == NULL) {
		set_err(err, "out of memory interning the environ keys");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		table[i] = PyUnicode_InternFromString(keys[i]);
		if (table[i] == NULL) {
			*err = gw_format_exception(&len);
			for (int j = 0; j < i; j++)
				Py_DECREF(table[j]);
			PyMem_RawFree(table);
			return -1;
		}
	}
	for (int i = 0; i < n_environ_keys; i++)
		Py_DECREF(environ_keys[i]);
	PyMem_RawFree(environ_keys);
	environ_keys = table;
	n_environ_keys = n;
	return 0;
}

/* gw_environ_bind caches what load_app left in _gowsgi. Returns -1 with
 * the exception of the first step that failed: no CPython call runs
 * while an earlier one's exception is pending. */
int gw_environ_bind(void)
{
	PyObject *hints;
	int rc;

	if ((key_wsgi_input = PyUnicode_InternFromString("wsgi.input")) == NULL ||
	    (key_wsgi_errors = PyUnicode_InternFromString("wsgi.errors")) == NULL ||
	    (base_environ = PyObject_GetAttrString(gw_bootstrap, "base_environ")) == NULL ||
	    (hints = gw_early_hints_new()) == NULL)
		return -1;
	rc = PyDict_SetItemString(base_environ, "wsgi.early_hints", hints);
	Py_DECREF(hints);
	if (rc < 0)
		return -1;
	file_input = PyObject_GetAttrString(gw_bootstrap, "file_input");
	return file_input != NULL ? 0 : -1;
}

/* gw_set_base_environ sets key in the environ of the requests to come:
 * to the bool on when value is NULL, else to value[0:len] as latin-1.
 * Called without the GIL, once the app is loaded (before that there is
 * no environ to set it in, and nothing to do). */
int gw_set_base_environ(const char *key, const char *value, size_t len, int on)
{
	PyThreadState *ts;
	PyObject *v;
	int rc = -1;

	if (base_environ == NULL)
		return 0;
	if ((ts = gw_thread_state()) == NULL)
		return -1;
	PyEval_RestoreThread(ts);
	v = value == NULL ? Py_NewRef(on ? Py_True : Py_False) : PyUnicode_DecodeLatin1(value, (Py_ssize_t)len, NULL);
	if (v != NULL) {
		rc = PyDict_SetItemString(base_environ, key, v);
		Py_DECREF(v);
	}
	if (rc < 0)
		PyErr_Clear();
	PyEval_SaveThread();
	return rc;
}

/*
 * gw_file_input returns wsgi.input for a body spilled to a file, or
 * streamed through a socket: a buffered reader (_gowsgi.FileInput) on a
 * dup of body_fd,
 * which Python then owns, so the caller may close its own descriptor.
 * A file holds exactly the body; reading starts at its beginning
 * whatever offset the writer left. A socket (ESPIPE) is read as it
 * comes; its blocking reads release the GIL (FileIO).
 * New reference, or NULL.
 */
PyObject *gw_file_input(int body_fd)
{
	PyObject *input;
	int fd = dup(body_fd);

	if (fd < 0 || (lseek(fd, 0, SEEK_SET) < 0 && errno != ESPIPE)) {
		PyErr_SetFromErrno(PyExc_OSError);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	input = PyObject_CallFunction(file_input, "i", fd);
	if (input == NULL)
		close(fd);
	return input;
}

/*
 * gw_build_environ decodes the Go side's encoding, a sequence of
 *   [u8 key id] ([u16 len][key] when the id is 0) [u32 len][value]
 * with latin-1 keys and values, over a copy of the constant wsgi.* keys.
 * Returns a new reference, or NULL.
 */
PyObject *gw_build_environ(const char *env, size_t env_len, PyObject *input, PyObject *errors)
{
	const char *p = env, *end = env + env_len;
	PyObject *d, *key = NULL, *val = NULL;

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
	if (PyDict_SetItem(d, key_wsgi_input, input) < 0 ||
	    PyDict_SetItem(d, key_wsgi_errors, errors) < 0)
		goto error;
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

