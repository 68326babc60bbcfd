/*
 * internal.h: what the C files of pyshim share among themselves; the
 * boundary with Go is pyshim.h. Every function here runs with the GIL
 * held unless its comment says otherwise.
 */
#ifndef GOWSGI_PYSHIM_INTERNAL_H
#define GOWSGI_PYSHIM_INTERNAL_H

#include "pyshim.h"

/* gw_slot is what outlives one exchange: the wsgi.errors stream, and
 * where a running app's write() blocks go (exchange.c). */
struct gw_slot {
	uintptr_t ctx;     /* names the Go Exchange */
	PyObject *errors;  /* created on the first call, under the GIL */
	/* Set by gw_call while the app runs with a write hook: */
	PyThreadState *tstate; /* the thread running the app */
	char *out;
	size_t cap;
	gw_result *res;
};

/* start_response of one exchange (startresp.c). */
typedef struct {
	PyObject_HEAD
	PyObject *status;  /* str; NULL until start_response is called */
	PyObject *headers; /* list of (str, str) */
	PyObject *written; /* bytes passed to write(), not yet sent; may be NULL */
	int headers_sent;  /* the head left for Go: exc_info now re-raises */
	gw_slot *hook;     /* borrowed: write() hands blocks to Go at once */
} StartResponse;

extern PyObject *gw_str_close; /* interned "close" */

/* gw_remember_source puts src in linecache under name (hooks.c). */
int gw_remember_source(const char *name, const char *src);
/* gw_run_named runs source in dict compiled as the file name, which
 * tracebacks show with its lines. Returns 0, or -1 with an exception. */
int gw_run_named(const char *name, const char *source, PyObject *dict);
/* gw_module_from_source runs source as a new module called name, also
 * put in sys.modules (hooks.c); a new reference, or NULL. */
PyObject *gw_module_from_source(const char *name, const char *source);
/* gw_call_method calls obj.name() taking the GIL and releasing it, for
 * its side effects. Returns 0, or -1 with *err (malloc'd traceback). */
int gw_call_method(PyObject *obj, const char *name, char **err);
/* gw_module_call runs source as the module name and calls its function
 * with the nargs strings args and then emit, a function made of
 * emit_def. Returns the call's result and sets *mod to the module (new
 * references), or returns NULL with an exception set (hooks.c). */
PyObject *gw_module_call(const char *name, const char *source, const char *function, const char *const *args,
			 int nargs, PyMethodDef *emit_def, PyObject **mod);

int gw_startresp_init(void);
/* gw_startresp_running marks sr as the start_response of the app call
 * running on this thread (NULL: none), for wsgi.early_hints. */
void gw_startresp_running(StartResponse *sr);
/* gw_early_hints_new returns wsgi.early_hints, a new reference, or NULL. */
PyObject *gw_early_hints_new(void);
/* gw_startresp_new returns a new StartResponse, or NULL. */
StartResponse *gw_startresp_new(void);
/* gw_emit_head writes status and headers at out[0:] (see gw_result) and
 * marks them sent; -1 with an exception when they are not WSGI or do not
 * fit. */
int gw_emit_head(StartResponse *sr, char *out, size_t cap, gw_result *res);

/* wsgi.input over request body bytes the caller keeps alive (input.c). */
int gw_input_init(void);
/* gw_input_new returns a new reference to a stream reading data[0:len]. */
PyObject *gw_input_new(const char *data, size_t len);
/* gw_input_detach makes the stream read as empty from now on: the bytes
 * it pointed at are about to go away; a file-backed stream's descriptor
 * is pointed at /dev/null. Accepts any object. */
void gw_input_detach(PyObject *input);

/* wsgi.errors (errors.c). */
int gw_errors_init(void);
/* gw_errors_new returns a new stream whose lines go to the Go sink named
 * by ctx. */
PyObject *gw_errors_new(uintptr_t ctx);
/* gw_errors_flush sends a pending partial line, if any. */
void gw_errors_flush(PyObject *errors);
/* gw_errors_detach flushes and makes later writes go to the default sink
 * (ctx 0): the Go handle is about to be deleted. */
void gw_errors_detach(PyObject *errors);
/* gw_errors_orphan sends later writes to the default sink without
 * flushing; the one function here that runs WITHOUT the GIL, for a
 * stream that cannot be released (no thread state). */
void gw_errors_orphan(PyObject *errors);

/* The environ (environ.c). body_fd >= 0 means the body is in that file. */
int gw_environ_bind(void);

/* clientsocket.c: environ["gunicorn.socket"] (GIL held). */
int gw_client_socket_bind(void);
PyObject *gw_client_socket_offer(PyObject *environ, int fd);
int gw_client_socket_used(PyObject *sock);
void gw_client_socket_release(PyObject **sock);
PyObject *gw_build_environ(const char *env, size_t env_len, PyObject *input,
			   PyObject *errors);
PyObject *gw_file_input(int body_fd);

/* The --preload zygote: zygote.c runs the process and its protocol with
 * the master (handoff/zygote.go), preload.c the Python in it. Both run
 * before the Go runtime exists, on the process's only thread. */

/* Exit codes with a meaning to the master. */
enum {
	GW_EXIT_BOOT = 3, /* handoff.ExitWorkerBootError */
	GW_EXIT_APP = 4,  /* handoff.ExitAppLoadError */
};

/* gw_zygote_say sends msg[0:n] to the master as one message, and exits
 * the process when the master is gone (zygote.c). No GIL needed. */
void gw_zygote_say(const char *msg, size_t n);
/* gw_zygote_sayf sends a formatted message, cut to 511 bytes. */
void gw_zygote_sayf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* gw_zygote_say_text sends head followed by text (NULL for none), text
 * cut to 60000 bytes. */
void gw_zygote_say_text(const char *head, const char *text);

/* gw_preload_spec is what the zygote imports, from its boot block. */
typedef struct {
	const char *program, *executable, *bootstrap, *app;
	const char *const *paths; /* prepended to sys.path */
	int npaths;
	int multithread; /* the app runs on several threads (--threads > 1) */
	int gc_freeze;   /* gc.freeze() after the import */
	int asgi;        /* GW_APP_*: which worker class will call the app (gw_load_app) */
	/* gw_logging_setup's source and settings, run before the import
	 * unless logging is "" */
	const char *logging_source, *logging;
} gw_preload_spec;

/* gw_logging_setup (pylogging.c) sets up Python's logging with the
 * _gowsgi_logging module's source and settings. held: the caller holds
 * the GIL; without it, takes and releases it. Returns 0, or -1 with
 * *err set (malloc'd). */
int gw_logging_setup(const char *source, const char *settings_json, int held, char **err);
/* gw_logging_to_master sends the records the calling thread logs to the
 * master (on) or no longer (off): the zygote's import. */
void gw_logging_to_master(int on);

/* gw_zygote_load starts Python, imports the app and reports to the
 * master: warnings, then "loaded" or "failed CODE\nTEXT" (preload.c).
 * Returns 0 with the GIL held by the only thread, or the exit code of
 * the failure, already reported. */
int gw_zygote_load(const gw_preload_spec *spec);

#endif
