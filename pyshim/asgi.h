/*
 * asgi.h: the ASGI runtime's boundary between Go and the event loop
 * (asgi.c, asgi.py). Go posts events into a gw_aqueue without the GIL;
 * the loop's thread takes them under the GIL when the queue's eventfd
 * wakes it. What the app sends is queued as gw_orec records (asgiout.c)
 * that Go takes in batches when the out eventfd wakes its poller.
 */
#ifndef GOWSGI_ASGI_H
#define GOWSGI_ASGI_H

#include <stddef.h>
#include <stdint.h>

/* Events from Go to the loop; the numbers are asgi.py's IN_*. */
enum {
	GW_IN_HTTP,       /* data: the encoded scope, code the budget; starts the app */
	GW_IN_WS,         /* data: the encoded scope, code the budget; starts the app */
	GW_IN_BODY,       /* data: request body bytes; flags GW_IF_MORE */
	GW_IN_DISCONNECT, /* the client is gone; WebSocket: code, data the reason */
	GW_IN_WS_MESSAGE, /* data: a whole message; flags GW_IF_TEXT */
	GW_IN_WRITABLE,   /* code: bytes of the budget Go credits back */
	GW_IN_STARTUP,    /* lifespan startup */
	GW_IN_SHUTDOWN,   /* lifespan shutdown */
	GW_IN_STOP,       /* stop the loop */
	GW_IN_PING,       /* nothing: proves the loop takes events */
	GW_IN_CANCEL,     /* cancel the connection's task (--request-timeout) */
};

/* GW_IF_CLOSE, on a WebSocket's GW_IN_DISCONNECT: the server ends it (a
 * graceful stop), and the loop answers with its GW_OUT_WS_CLOSE, queued
 * after whatever the app sent before it learned. */
enum { GW_IF_MORE = 1, GW_IF_TEXT = 2, GW_IF_CLOSE = 4 };

/* Events from the app to Go; asgi.py's OUT_*. */
enum {
	GW_OUT_START,    /* status, headers; flags GW_OF_TRAILERS */
	GW_OUT_BODY,     /* body; flags GW_OF_MORE */
	GW_OUT_TRAILERS, /* headers; flags GW_OF_MORE */
	GW_OUT_PATHSEND, /* text: an absolute file path */
	GW_OUT_DONE,     /* the app returned or raised: status how far the
			  * response got, text the traceback or NULL, flags
			  * 1 when the client was gone */
	GW_OUT_WS_ACCEPT,/* headers, text the subprotocol or NULL */
	GW_OUT_WS_SEND,  /* body; flags GW_OF_TEXT */
	GW_OUT_WS_CLOSE, /* status the close code, text the reason */
	GW_OUT_LIFESPAN, /* status: asgi.py's LS_*, text the message */
	GW_OUT_LOG,      /* text: a line for the worker's log */
	GW_OUT_WANT,     /* receive() waits for an event */
	GW_OUT_ZEROCOPY, /* http.response.zerocopysend: text "FD OFFSET COUNT",
			  * FD a duplicate Go owns; flags GW_OF_MORE */
	GW_OUT_INFO,     /* http.response.informational: status, headers */
	GW_OUT_KINDS,
};

/* What a zerocopysend region costs against the connection's budget:
 * each holds a descriptor until Go sends it, so an app queueing many
 * small regions awaits after a few (16 in the 64 KiB budget). */
enum { GW_ZEROCOPY_COST = 4096 };

enum { GW_OF_MORE = 1, GW_OF_TRAILERS = 2, GW_OF_TEXT = 4 };

typedef struct gw_aqueue gw_aqueue;

/*
 * One event the app sent, in the buffer gw_oq_take returns: the record,
 * then head_len bytes of headers ([u32 len][name][u32 len][value] each,
 * native byte order), then the body unless body_ptr holds it, then
 * text_len bytes of text (UTF-8); the next record starts at the next
 * multiple of 8.
 */
typedef struct gw_orec {
	uint64_t conn;
	uint64_t body_len;
	char *body_ptr; /* a long body, out of line; NULL: inline */
	void *body_obj; /* the bytes object body_ptr points into; NULL: a malloc'd copy */
	uint64_t cost;  /* header and body bytes: what counts against the budget */
	int32_t kind, status, flags;
	uint32_t nheaders, head_len, text_len;
} gw_orec;

/* No GIL needed by any of these. */
/* gw_aq_new returns a new queue, the eventfd the loop waits on in *efd
 * and the one Go waits on in *ofd (the caller closes *ofd, after
 * gw_aq_free), or NULL with errno set. */
gw_aqueue *gw_aq_new(int *efd, int *ofd);
/* gw_aq_free: on the loop's thread once the loop is gone; it takes the
 * GIL to drop the app's bytes objects still held, if any. */
void gw_aq_free(gw_aqueue *q);
int gw_aq_post(gw_aqueue *q, const char *buf, size_t len, int64_t waited_ns);
int64_t gw_aq_stalled(gw_aqueue *q, int *empty);
void gw_aq_wake(gw_aqueue *q);
/* gw_oq_take, gw_oq_done: see asgiout.c. */
char *gw_oq_take(gw_aqueue *q, size_t *len);
int gw_oq_done(gw_aqueue *q);

/* The loop's thread: takes the GIL, gives it back before returning. */
int gw_asgi_prepare(gw_aqueue *q, int efd, const char *const *names, const char *const *srcs,
		    int nsrc, const char *loop, const char *lifespan, const char *app, char **loop_name,
		    char **err);
int gw_asgi_run(char **err);

/* The calling thread's id as the traceback dump names it ("Thread
 * 0x..."); no GIL needed. */
uint64_t gw_asgi_thread_ident(void);
/* Any thread but the loop's, without the GIL: takes it (asgi.c). */
int gw_asgi_running(uint64_t *conn);

#endif
