/*
 * crash.c: a worker whose app crashes in C code (a segfault in an
 * extension module, ctypes.string_at(0), a bus error in a mapped file)
 * writes the Python stack of every thread to its crash output and dies
 * by that signal, as a Gunicorn worker does (its master then logs "was
 * sent SIGSEGV!"). Without it Go's runtime took the signal, printed its
 * goroutines (about 290 lines that say nothing of Python) and exited
 * with code 2.
 *
 * How: a constructor installs crash_handler for the synchronous signals
 * before the Go runtime starts. Go keeps a handler it finds at start as
 * the one to forward to, and forwards to it the synchronous signals that
 * happen outside Go code (in C: CPython, the app's extensions, a thread
 * the app started), while it handles those in Go code itself (a nil
 * pointer's panic) as before (runtime.sigfwdgo). In the --preload zygote,
 * where no Go runtime runs, it is the handler.
 *
 * The stack comes from faulthandler's dump (traceback.c), which is
 * written for a signal handler: write(2) only, no lock, no GIL.
 */
#include "pyshim.h"
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* Where the report goes: stderr, or with --capture-output the original
 * stderr (gw_crash_output), as Go's own crash reports. */
static volatile sig_atomic_t crash_fd = 2;
static int crashing; /* set once, by the first thread to crash */

void gw_crash_output(int fd)
{
	crash_fd = fd;
}

static void crash_write(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(crash_fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void crash_say(const char *s)
{
	crash_write(s, strlen(s));
}

static const char *crash_name(int sig)
{
	switch (sig) {
	case SIGSEGV:
		return "Segmentation fault";
	case SIGBUS:
		return "Bus error";
	case SIGFPE:
		return "Floating-point exception";
	case SIGILL:
		return "Illegal instruction";
	}
	return "Fatal signal";
}

static void crash_handler(int sig, siginfo_t *info, void *ctx)
{
	static char buf[4096];
	const char *msg = NULL;
	struct sigaction dfl;
	int fd;

	(void)info;
	(void)ctx;
	if (!__sync_bool_compare_and_swap(&crashing, 0, 1)) {
		/* Another thread crashed first and writes the report; it ends
		 * the process when done. */
		for (;;)
			pause();
	}
	crash_say("Fatal Python error: ");
	crash_say(crash_name(sig));
	crash_say(" in C code the worker ran; the Python stack of every thread, most recent call first:\n");
	fd = gw_dump_tracebacks(&msg);
	if (fd < 0) {
		crash_say("(");
		crash_say(msg);
		crash_say(")\n");
	}
	for (off_t off = 0; fd >= 0;) {
		ssize_t n = pread(fd, buf, sizeof buf, off);
		if (n <= 0)
			break;
		crash_write(buf, (size_t)n);
		off += n;
	}
	/* Die by the signal: the default action once this handler returns
	 * (the faulting instruction runs again) or at once for one raised. */
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
	raise(sig);
}

/* Before the zygote's constructor (zygote.c), which imports the app and
 * forks the workers from inside itself: a priority runs first. */
__attribute__((constructor(101))) static void gw_crash_install(void)
{
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = crash_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
}
