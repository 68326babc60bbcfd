/*
 * pyshim.h: the C side of gowsgi's boundary with CPython.
 *
 * Threads and the GIL: every gw_* function below except gw_initialize and
 * gw_load_app is called from a Go goroutine on an arbitrary OS thread,
 * WITHOUT the GIL; each takes the GIL with that OS thread's cached thread
 * state, does all its Python work and releases it before returning.
 * gw_initialize and gw_load_app run on the locked main OS thread, which
 * holds the GIL from gw_initialize until gw_release_main.
 */
#ifndef GOWSGI_PYSHIM_H
#define GOWSGI_PYSHIM_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* gw_result.flags */
enum {
	GW_HEAD = 1,  /* out[0:head_len] holds the status and headers */
	GW_DONE = 2,  /* the iterable is exhausted and closed; the exchange is gone */
	GW_ERROR = 4, /* the app failed; err holds the traceback */
	GW_BIG = 8,   /* big/big_len point at a chunk held until the next call */
	GW_FILE = 16, /* after the body bytes, send file_len bytes of file_fd
		       * from file_off; the fd stays open until the next call */
	GW_TAKEN = 32, /* with GW_DONE: the app used the client socket it was
			* offered (sock_fd); nothing of its result is to be sent.
			* err, if set, is what it ended with */
	GW_INTERIM = 64, /* with GW_HEAD, through the write hook only: an
			  * informational head (103 Early Hints) to send before
			  * the response's; no body */
};

typedef struct gw_exchange gw_exchange;
/* gw_slot is what one Go Exchange keeps across its requests: its
 * wsgi.errors stream. Opaque to Go. */
typedef struct gw_slot gw_slot;

/*
 * gw_result describes what one call produced. The head, when present, is
 * at the start of the caller's out buffer:
 *   status bytes (status_len), then nheaders records of
 *   [u32 name_len][name][u32 value_len][value], native byte order,
 *   latin-1 bytes as PEP 3333 requires.
 * Body bytes follow at out[body_off:body_off+body_len].
 */
typedef struct gw_result {
	int flags;
	uint32_t status_len;
	uint32_t head_len; /* status and header records together */
	uint32_t nheaders;
	uint32_t body_off;
	uint32_t body_len;
	const char *big;   /* owned by the exchange; valid until gw_next/gw_abort */
	int64_t big_len;
	int file_fd;       /* GW_FILE: a regular file the result wraps */
	int64_t file_off;
	int64_t file_len;
	char *err;         /* malloc'd UTF-8 text, freed by the caller with free() */
	size_t err_len;
	gw_exchange *exch; /* non-NULL while the response has more to produce */
} gw_result;

int gw_initialize(const char *program, const char *executable, const char *bootstrap,
		  char **err);
int gw_set_environ_keys(const char *const *keys, int n, char **err);
/* gw_load_app's asgi; the numbers are bootstrap.py's. */
enum { GW_APP_WSGI, GW_APP_ASGI, GW_APP_DETECT };
/* gw_load_app's failures: the import raised (a worker boot error, as in
 * Gunicorn), or the module imported but the spec names no app that can
 * serve (bootstrap.AppLoadError, Gunicorn's app load error). */
enum { GW_LOAD_RAISED = -1, GW_LOAD_NO_APP = -2 };
int gw_load_app(const char *spec, const char *const *paths, int npaths,
		int multithread, int asgi, int *stolen, int *nstolen, char **err);
/* gw_app_is_asgi: 1 once gw_load_app has loaded an app served as ASGI,
 * here or in the zygote this process was forked from. */
extern int gw_app_is_asgi;
/* gw_asgi_path_without_root: 1 when that app's framework routes on a
 * scope path without root_path (bootstrap._routes_on_path_without_root). */
extern int gw_asgi_path_without_root;
void gw_release_main(void);
int gw_prepare_import_loop(const char *kind, int create, char **err);
int gw_run_atexit(char **err);
/* signals.c: Go's signal handlers kept Go's, the app's Python ones run */
void gw_signals_capture(void);
int gw_graceful_stop_signal(void);
void gw_signals_reclaim(int *stolen, int *nstolen);
int gw_signals_run_python(int sig, int *ran, char **err);
int gw_signals_adopt_python(char **err); /* GIL held, main thread */
int gw_register_fork_hooks(char **err);  /* GIL held; a worker only */
/* traceback.c: faulthandler's dump of every thread on a spare signal */
int gw_tracebacks_register(void); /* GIL held */
int gw_tracebacks_register_nogil(char **err);
int gw_dump_tracebacks(const char **msg); /* no GIL */
/* gw_crash_output sets where a crash in C code reports (crash.c). */
void gw_crash_output(int fd);

/*
 * gw_where is where an Exchange's call is, for the log of a worker
 * stuck past --timeout: the thread running gw_call, gw_next or gw_abort
 * writes it (atomic stores) and any thread reads it (atomic loads),
 * without the GIL. It is Go memory, passed with each call and not kept.
 *   stage: GW_STAGE_OUT, not in one of those calls; GW_STAGE_WAITING,
 *          in one, waiting for the GIL; GW_STAGE_RUNNING, holding it.
 *   thread: the calling thread's ident, as faulthandler's dump names it
 *          ("Thread 0x..."); set before stage leaves GW_STAGE_OUT.
 */
enum { GW_STAGE_OUT, GW_STAGE_WAITING, GW_STAGE_RUNNING };
typedef struct gw_where {
	uint64_t thread;
	int32_t stage;
} gw_where;

/* gw_slot_new needs no GIL; gw_slot_free takes it. ctx names the Go
 * sink of the slot's wsgi.errors. */
gw_slot *gw_slot_new(uintptr_t ctx);
void gw_slot_free(gw_slot *s);

/* gw_call runs one request. body[0:body_len] must stay valid and
 * unmoved until the exchange is done (GW_DONE or gw_abort); when
 * body_fd >= 0 the body is read from that file instead. With
 * write_hook, each write() the app makes while it runs is handed to
 * gowsgiWriteStep at once, in out and *res. With sock_fd >= 0 the
 * environ offers the client connection, as a socket on a duplicate of
 * sock_fd, in "gunicorn.socket". */
int gw_set_base_environ(const char *key, const char *value, size_t len, int on);
int gw_call(gw_slot *s, gw_where *w, const char *env, size_t env_len, const char *body,
	    size_t body_len, int body_fd, int write_hook, int sock_fd, char *out, size_t out_cap,
	    gw_result *res);
int gw_next(gw_where *w, gw_exchange *x, char *out, size_t out_cap, gw_result *res);
void gw_abort(gw_where *w, gw_exchange *x, gw_result *res);

/* Implemented in Go (errors.go): complete lines written to a wsgi.errors
 * stream, without their final newline. Called WITHOUT the GIL, on the
 * thread that wrote them; except for the partial line a stream still
 * holds when it is deallocated, passed WITH the GIL held, since a
 * tp_dealloc must not release it. */
extern void gowsgiErrorsWrite(uintptr_t ctx, char *text, size_t len);

/* Implemented in Go (exchange.go): one write() block, described by the
 * result and out buffer the running gw_call was given; returns 0 when
 * the client is gone. Called WITHOUT the GIL, on the thread running the
 * app. */
extern int gowsgiWriteStep(uintptr_t ctx);

/* internal, shared between the C files */
extern PyObject *gw_bootstrap;      /* the _gowsgi helper module */
PyThreadState *gw_thread_state(void);
char *gw_format_exception(size_t *len);
int gw_exchange_init_types(void);
int gw_exchange_bind(void);

#endif
