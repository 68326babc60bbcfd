/*
 * slot.c: what one Go Exchange keeps across its requests (gw_slot):
 * its wsgi.errors stream, made by the first exchange that needs it.
 */
#include "internal.h"

gw_slot *gw_slot_new(uintptr_t ctx)
{
	gw_slot *s = calloc(1, sizeof *s);
	if (s != NULL)
		s->ctx = ctx;
	return s;
}

void gw_slot_free(gw_slot *s)
{
	if (s == NULL)
		return;
	if (s->errors != NULL) {
		PyThreadState *ts = gw_thread_state();
		/* Without a thread state the stream cannot be released (the
		 * alternative, PyEval_RestoreThread(NULL), aborts): it is
		 * leaked, pointed at the default sink since the Go handle is
		 * deleted when this returns. A pending partial line is lost. */
		if (ts == NULL) {
			gw_errors_orphan(s->errors);
			free(s);
			return;
		}
		PyEval_RestoreThread(ts);
		gw_errors_detach(s->errors);
		Py_CLEAR(s->errors);
		PyEval_SaveThread();
	}
	free(s);
}
