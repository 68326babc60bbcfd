/*
 * preload.c: the Python side of the --preload zygote (zygote.c runs the
 * process and speaks to the master). In the zygote, before the Go
 * runtime exists: start CPython, import the app once, warn about what a
 * fork will not carry over (stolen signals, threads), flush what the
 * import printed and freeze the GC. In a forked worker, once the Go
 * runtime runs: adopt the interpreter it inherited (gw_adopt).
 */
#include "internal.h"
#include "zygote.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* report_threads warns the master about threads the app started at
 * import: fork() copies only the calling thread, so they do not exist
 * in the workers. Python threads are named; others are counted from
 * /proc/self/task. GIL held. */
static void report_threads(void)
{
	static const char probe[] =
		"import os, sys\n"
		"t = sys.modules.get('threading')\n"
		"names = [x.name for x in t.enumerate() if x is not t.main_thread()] if t else []\n"
		"others = len(os.listdir('/proc/self/task')) - 1 - len(names)\n"
		"if others > 0: names.append('%d thread(s) not started by Python' % others)\n"
		"text = 'threads' + ''.join('\\n' + n for n in names) if names else ''\n";
	PyObject *ns = PyDict_New(), *res = NULL, *text;
	const char *s;

	if (ns == NULL || PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) < 0)
		goto out;
	res = PyRun_String(probe, Py_file_input, ns, ns);
	text = res ? PyDict_GetItemString(ns, "text") : NULL; /* borrowed */
	if (text != NULL && (s = PyUnicode_AsUTF8(text)) != NULL && s[0])
		gw_zygote_say_text("", s);
out:
	PyErr_Clear();
	Py_XDECREF(res);
	Py_XDECREF(ns);
}

/* freeze_gc moves every object alive now to the GC's permanent
 * generation, so a worker's collections never write to (and so never
 * copy) the pages the app's objects share with the zygote. GIL held. */
static int freeze_gc(void)
{
	PyObject *gc = PyImport_ImportModule("gc"), *res = NULL;

	if (gc != NULL)
		res = PyObject_CallMethod(gc, "freeze", NULL);
	Py_XDECREF(gc);
	Py_XDECREF(res);
	return res != NULL ? 0 : -1;
}

/* flush_output writes out what the import printed: a buffer left in
 * sys.stdout would be printed again by every worker forked with a copy
 * of it, and lost if the zygote exits. GIL held. */
static void flush_output(void)
{
	static const char *const names[] = {"stdout", "stderr"};

	for (int i = 0; i < 2; i++) {
		PyObject *stream = PySys_GetObject(names[i]); /* borrowed */
		PyObject *res = stream && stream != Py_None ? PyObject_CallMethod(stream, "flush", NULL) : NULL;
		Py_XDECREF(res);
		/* Cleared per stream: a stdout whose flush() raised must not
		 * leave its exception pending while stderr is flushed. */
		PyErr_Clear();
	}
	fflush(NULL);
}

int gw_zygote_load(const gw_preload_spec *spec)
{
	char *err = NULL;
	int stolen[16], nstolen = 0, rc;

	if (gw_initialize(spec->program, spec->executable, spec->bootstrap, &err) < 0) {
		gw_zygote_say_text("failed 3\nthe Python interpreter failed to start: ", err);
		free(err);
		return GW_EXIT_BOOT;
	}
	gw_logging_to_master(1);
	if (spec->logging[0] && gw_logging_setup(spec->logging_source, spec->logging, 1, &err) < 0) {
		gw_logging_to_master(0);
		gw_zygote_say_text("failed 3\ncannot set up Python's logging:\n", err);
		free(err);
		return GW_EXIT_BOOT;
	}
	/* Python's stop handler as in a worker (signals.c; what it cannot do
	 * is no reason to fail), then the import's own handlers are put back
	 * after it. */
	gw_signals_capture();
	if (gw_signals_adopt_python(&err) < 0)
		free(err);
	err = NULL;
	rc = gw_load_app(spec->app, spec->paths, spec->npaths, spec->multithread, spec->asgi, stolen,
			 &nstolen, &err);
	gw_logging_to_master(0);
	flush_output();
	if (rc < 0) {
		int code = rc == GW_LOAD_NO_APP ? GW_EXIT_APP : GW_EXIT_BOOT;
		char head[32];

		snprintf(head, sizeof head, "failed %d app\n", code);
		gw_zygote_say_text(head, err);
		free(err);
		return code;
	}
	for (int i = 0; i < nstolen; i++)
		gw_zygote_sayf("signal %d", stolen[i]);
	report_threads();
	if (spec->gc_freeze && freeze_gc() < 0) {
		size_t n;
		err = gw_format_exception(&n);
		gw_zygote_say_text("failed 3\ngc.freeze() failed: ", err);
		free(err);
		return GW_EXIT_BOOT;
	}
	gw_zygote_say("loaded", 6);
	return 0;
}

int gw_adopt(const char *const *keys, int n, char **err)
{
	PyThreadState *ts = gw_thread_state();
	int rc;

	if (ts == NULL) {
		/* PyEval_RestoreThread(NULL) would abort the worker. */
		static const char msg[] = "cannot create a Python thread state (out of memory)";
		if ((*err = malloc(sizeof msg)) != NULL)
			memcpy(*err, msg, sizeof msg);
		return -1;
	}
	PyEval_RestoreThread(ts);
	rc = gw_set_environ_keys(keys, n, err);
	if (rc == 0)
		rc = gw_register_fork_hooks(err);
	PyEval_SaveThread();
	return rc;
}
