/*
 * helpers.c: C test helpers for pyshim's tests (see pyshimtest.go).
 */
#include "helpers.h"
#include <pthread.h>

/* The raw allocator in place before install_failing_calloc; every call
 * is forwarded to it. Written once, before any other thread allocates
 * through the wrapper. */
static PyMemAllocatorEx orig;
/* Set by arm_failing_calloc: the next PyMem_RawCalloc on this thread
 * returns NULL, then the flag clears. */
static __thread int fail_next_calloc;

static void *w_malloc(void *ctx, size_t n) { return orig.malloc(orig.ctx, n); }

static void *w_calloc(void *ctx, size_t nelem, size_t elsize)
{
	if (fail_next_calloc) {
		fail_next_calloc = 0;
		return NULL;
	}
	return orig.calloc(orig.ctx, nelem, elsize);
}

static void *w_realloc(void *ctx, void *p, size_t n) { return orig.realloc(orig.ctx, p, n); }
static void w_free(void *ctx, void *p) { orig.free(orig.ctx, p); }

void install_failing_calloc(void)
{
	PyMemAllocatorEx w = {NULL, w_malloc, w_calloc, w_realloc, w_free};

	PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &orig);
	PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &w);
}

void arm_failing_calloc(void) { fail_next_calloc = 1; }
int failing_calloc_armed(void) { return fail_next_calloc; }
int gil_held(void) { return PyGILState_Check(); }
/* Py_Version is 3.11+: the version of the library loaded, not of the
 * headers. */
int py_version_hex(void) { return (int)Py_Version; }

static void *thread_main(void *arg)
{
	pyshimtestRun((uintptr_t)arg);
	return NULL;
}

int run_on_new_thread(uintptr_t handle)
{
	pthread_t t;
	int rc = pthread_create(&t, NULL, thread_main, (void *)handle);

	return rc != 0 ? rc : pthread_join(t, NULL);
}
