/*
 * asgiq.h: the ASGI queue's layout, shared by asgi.c (events from Go to
 * the loop) and asgiout.c (events from the app to Go); the boundary
 * with Go is asgi.h.
 */
#ifndef GOWSGI_ASGIQ_H
#define GOWSGI_ASGIQ_H

#include "internal.h"
#include "asgi.h"
#include <pthread.h>

typedef struct gw_aevent {
	struct gw_aevent *next;
	uint64_t conn;
	int kind;
	int flags;
	int64_t code;
	size_t len;
	char data[];
} gw_aevent;

/* gw_obuf is a run of gw_orec records (asgi.h) the app sent. */
typedef struct {
	char *b;
	size_t len, cap;
} gw_obuf;

struct gw_aqueue {
	/* Go to the loop. */
	pthread_mutex_t mu;
	gw_aevent *head, *tail; /* guarded by mu */
	int signalled;          /* guarded by mu: efd was written since the last take */
	int64_t oldest_ns;      /* guarded by mu: when the head was posted; 0 when empty */
	int efd;                /* immutable; the loop waits on it */

	/* The app to Go. */
	pthread_mutex_t omu;
	gw_obuf out;       /* guarded by omu: being filled by the loop */
	gw_obuf spare;     /* guarded by omu: Go's, from its last take until the next */
	int out_signalled; /* guarded by omu: ofd was written since Go's last take */
	/* Guarded by omu: bytes objects whose bodies Go has copied, to be
	 * released under the GIL (release_dead). */
	PyObject **dead;
	size_t ndead, capdead;
	int ofd;           /* immutable; Go's poller waits on it; closed by Go */
};

/* asgiout.c; loop thread, GIL held. */
PyObject *gw_asgi_out(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
/* gw_asgi_release_dead drops the bytes objects Go has copied. GIL held. */
void gw_asgi_release_dead(gw_aqueue *q);
/* gw_oq_free frees both out buffers and their out-of-line bodies; the
 * loop's thread, which it gives the GIL for the bytes objects held. */
void gw_oq_free(gw_aqueue *q);

/* asgiscope.c; GIL held. */
int gw_asgi_scope_init(void);
PyObject *gw_asgi_scope(const char *data, size_t len, int ws, PyObject *state);

/* gw_write_efd adds one to an eventfd's counter. No GIL. */
void gw_write_efd(int fd);

#endif
