/*
 * clientsocket.c: environ["gunicorn.socket"], the client connection
 * offered to a request that asks to become a WebSocket (engine/
 * takeover.go): a socket on a duplicate of the descriptor, made by
 * _gowsgi.client_socket, which marks its own first use.
 */
#include "internal.h"

static PyObject *client_socket; /* _gowsgi.client_socket */
static PyObject *key_gunicorn_socket, *str_sock_used;

/* gw_client_socket_bind caches what it needs of _gowsgi. Returns -1 with
 * the exception of the first step that failed. GIL held. */
int gw_client_socket_bind(void)
{
	if ((client_socket = PyObject_GetAttrString(gw_bootstrap, "client_socket")) == NULL ||
	    (key_gunicorn_socket = PyUnicode_InternFromString("gunicorn.socket")) == NULL ||
	    (str_sock_used = PyUnicode_InternFromString("_gowsgi_used")) == NULL)
		return -1;
	return 0;
}

/* gw_client_socket_offer puts a socket on a duplicate of fd in environ
 * as "gunicorn.socket" and returns a new reference to it, or NULL with
 * an exception. */
PyObject *gw_client_socket_offer(PyObject *environ, int fd)
{
	PyObject *sock = PyObject_CallFunction(client_socket, "i", fd);

	if (sock != NULL && PyDict_SetItem(environ, key_gunicorn_socket, sock) < 0)
		Py_CLEAR(sock);
	return sock;
}

/* gw_client_socket_used reports whether the app used the socket it was
 * offered. An exception pending (the app's) is set aside meanwhile. */
int gw_client_socket_used(PyObject *sock)
{
	PyObject *type, *value, *tb, *used;
	int rc;

	PyErr_Fetch(&type, &value, &tb);
	used = PyObject_GenericGetAttr(sock, str_sock_used);
	rc = used == Py_True;
	Py_XDECREF(used);
	PyErr_Clear();
	PyErr_Restore(type, value, tb);
	return rc;
}

/* gw_client_socket_release drops *sock (if any), closing its duplicate
 * descriptor first when the app never used it; one the app used is the
 * app's (a thread of its own may still read it). No exception may be
 * pending. */
void gw_client_socket_release(PyObject **sock)
{
	PyObject *r;

	if (*sock == NULL)
		return;
	if (!gw_client_socket_used(*sock)) {
		r = PyObject_CallMethodNoArgs(*sock, gw_str_close);
		if (r == NULL)
			PyErr_Clear();
		Py_XDECREF(r);
	}
	Py_CLEAR(*sock);
}
