/*
 * zygote.c: the --preload zygote, the process and its protocol with the
 * master; what it does in Python is preload.c.
 *
 * A Go process must never fork() without exec: its runtime is
 * multi-threaded. The zygote forks before the Go runtime exists: this
 * constructor runs in every process of the binary before main, and in a
 * process marked by GW_ZYGOTE_ENV it initialises CPython, imports the
 * app once, freezes the GC, and then, single-threaded for good, forks a
 * worker for each spawn request of the master. It never returns in the
 * zygote itself. A forked worker returns from the constructor with
 * Python initialised, the app imported and the GIL released; the Go
 * runtime then starts in it as in any worker (worker.Main), reading its
 * boot message, control pipe and listeners at the usual fds.
 *
 * Each worker is forked twice, and the middle process exits at once, so
 * the worker is re-parented to the master (a child subreaper), which
 * reaps and supervises it exactly like a re-executed worker.
 *
 * Protocol on GW_ZYGOTE_SOCKET_FD (SOCK_SEQPACKET, one message each),
 * shared with handoff/zygote.go:
 *   zygote -> master, once:  "loaded" | "failed CODE\nTEXT"
 *     before it, any of:     "signal N" | "threads\nNAME\nNAME..."
 *   master -> zygote:        "spawn" + SCM_RIGHTS [boot, control, listeners...]
 *   zygote -> master:        "pid N" | "error TEXT"
 * A zygote that failed (CODE 3: the interpreter or the process setup,
 * CODE 4: the app import) still answers spawn requests, with workers
 * that exit with CODE at once: the master handles them like workers
 * that failed to boot. EOF on the socket (the master is gone) ends it.
 */
#include "internal.h"
#include "zygote.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int gw_preloaded;

enum {
	MAX_FDS = 253, /* SCM_MAX_FD */
	MAX_TEXT = 60000,
};

/* Boot block fields, NUL-terminated, in this order (zygote.go encodes). */
enum {
	F_MAGIC, F_FAIL_CODE, F_FAIL_TEXT, F_PROGRAM, F_EXECUTABLE, F_APP,
	F_MULTITHREAD, F_GC_FREEZE, F_ASGI, F_LISTENERS, F_BOOTSTRAP, F_LOGGING_SOURCE, F_LOGGING,
	/* then paths */
	BOOT_FIELDS
};
#define BOOT_MAGIC "gowsgi-zygote-4"

/* zygote is the zygote's state, written once by boot. */
static struct {
	int sock;       /* to the master, moved above the reserved fds */
	pid_t master;   /* its parent, the master */
	int nfds;       /* descriptors per spawn request: 2 + listeners */
	int fail_code;  /* 0, or the exit code of every worker it forks */
	char *block;    /* the boot block, fields point into it */
	const char *field[BOOT_FIELDS];
	const char **paths;
	int npaths;
} zygote;

void gw_zygote_say(const char *msg, size_t n)
{
	if (send(zygote.sock, msg, n, MSG_NOSIGNAL) < 0)
		_exit(GW_EXIT_BOOT); /* the master is gone */
}

void gw_zygote_sayf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	gw_zygote_say(buf, n < 0 ? 0 : (n < (int)sizeof buf ? (size_t)n : sizeof buf - 1));
}

/* gw_zygote_say_text cuts text to MAX_TEXT bytes. */
void gw_zygote_say_text(const char *head, const char *text)
{
	size_t h = strlen(head), t = text ? strnlen(text, MAX_TEXT) : 0;
	char *buf = malloc(h + t);

	if (buf == NULL) {
		gw_zygote_say(head, h);
		return;
	}
	memcpy(buf, head, h);
	if (t)
		memcpy(buf + h, text, t);
	gw_zygote_say(buf, h + t);
	free(buf);
}

/* take_marker reports whether envp holds GW_ZYGOTE_ENV and blanks it
 * out. The slot becomes "", which libc, CPython and Go all skip, rather
 * than being removed: the Go runtime finds the aux vector just past the
 * NULL that ends envp, so the array must keep its length. */
static int take_marker(char **envp)
{
	static char empty[] = "";
	size_t n = strlen(GW_ZYGOTE_ENV);
	int found = 0;

	for (char **e = envp; e != NULL && *e != NULL; e++) {
		if (strncmp(*e, GW_ZYGOTE_ENV, n) == 0 && (*e)[n] == '=') {
			*e = empty;
			found = 1;
		}
	}
	if (found)
		unsetenv(GW_ZYGOTE_ENV); /* should libc's environ be another array */
	return found;
}

/* read_block reads the boot block at GW_ZYGOTE_BOOT_FD and splits its
 * fields. Returns 0, or -1 when it is missing or malformed. */
static int read_block(void)
{
	struct stat st;
	size_t len = 0;
	const char *p, *end;
	int i;

	if (fstat(GW_ZYGOTE_BOOT_FD, &st) < 0 || st.st_size <= 0 ||
	    (zygote.block = malloc((size_t)st.st_size)) == NULL)
		return -1;
	while (len < (size_t)st.st_size) {
		ssize_t r = pread(GW_ZYGOTE_BOOT_FD, zygote.block + len, st.st_size - len, len);
		if (r <= 0)
			return -1;
		len += (size_t)r;
	}
	p = zygote.block, end = zygote.block + len;
	if (end[-1] != 0)
		return -1;
	for (i = 0; i < BOOT_FIELDS; i++) {
		if (p >= end)
			return -1;
		zygote.field[i] = p;
		p += strlen(p) + 1;
	}
	zygote.paths = calloc(len, sizeof *zygote.paths);
	if (zygote.paths == NULL)
		return -1;
	for (; p < end; p += strlen(p) + 1)
		zygote.paths[zygote.npaths++] = p;
	return strcmp(zygote.field[F_MAGIC], BOOT_MAGIC) == 0 ? 0 : -1;
}

/* reserve_fds keeps the fd numbers a worker's descriptors go to
 * (GW_WORKER_FIRST_FD...) out of the app's hands: they hold /dev/null
 * until a forked worker dup2()s its own descriptors there. Without this
 * a file the app opens at import could take fd 5 and be replaced by a
 * listener in every worker. The socket to the master moves above them. */
static int reserve_fds(void)
{
	int top = GW_WORKER_FIRST_FD + zygote.nfds;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	zygote.sock = fcntl(GW_ZYGOTE_SOCKET_FD, F_DUPFD_CLOEXEC, top);
	if (null < 0 || zygote.sock < 0)
		return -1;
	for (int fd = GW_WORKER_FIRST_FD; fd < top; fd++) {
		if (fd != null && dup3(null, fd, O_CLOEXEC) < 0)
			return -1;
	}
	if (null >= top)
		close(null);
	return 0;
}

/* load has the app imported as the boot block says (preload.c).
 * Returns 0, or the exit code of the failure (already reported). */
static int load(void)
{
	gw_preload_spec spec = {
		.program = zygote.field[F_PROGRAM],
		.executable = zygote.field[F_EXECUTABLE],
		.bootstrap = zygote.field[F_BOOTSTRAP],
		.app = zygote.field[F_APP],
		.paths = (const char *const *)zygote.paths,
		.npaths = zygote.npaths,
		.multithread = zygote.field[F_MULTITHREAD][0] == '1',
		.gc_freeze = zygote.field[F_GC_FREEZE][0] == '1',
		.asgi = zygote.field[F_ASGI][0] - '0', /* a GW_APP_* digit */
		.logging_source = zygote.field[F_LOGGING_SOURCE],
		.logging = zygote.field[F_LOGGING],
	};

	return gw_zygote_load(&spec);
}

/* wait_for_master waits until the middle process has exited and this
 * one is the master's child, then makes a dying master TERM it, as it
 * does with re-executed workers. Exits when the master is not the new
 * parent: it could not reap or supervise the worker. */
static void wait_for_master(pid_t middle)
{
	struct timespec pause = {0, 50 * 1000};

	for (int i = 0; i < 100000 && getppid() == middle; i++)
		nanosleep(&pause, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != zygote.master) {
		static const char msg[] = "gowsgi zygote: a forked worker was not re-parented to the "
					  "master (is it a child subreaper?); exiting\n";
		ssize_t unused = write(2, msg, sizeof msg - 1);
		(void)unused;
		_exit(GW_EXIT_BOOT);
	}
}

/* place_fds puts the n descriptors of a spawn request at
 * GW_WORKER_FIRST_FD... (over the reserved ones) and closes everything
 * else the zygote holds for the master. Returns 0 or -1. */
static int place_fds(const int *fds, int n)
{
	int tmp[MAX_FDS];
	int above = GW_WORKER_FIRST_FD + n;

	for (int i = 0; i < n; i++) {
		/* above every target, so no dup2 below lands on a source */
		tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, above);
		if (tmp[i] < 0)
			return -1;
		close(fds[i]);
	}
	close(zygote.sock);
	for (int i = 0; i < n; i++) {
		if (dup2(tmp[i], GW_WORKER_FIRST_FD + i) < 0)
			return -1;
		close(tmp[i]);
	}
	return 0;
}

/* become_worker runs in the forked worker: it leaves the constructor
 * with Python ready for the Go runtime, or exits when the zygote
 * failed. */
static void become_worker(pid_t middle, const int *fds, int n)
{
	wait_for_master(middle);
	if (zygote.fail_code != 0)
		_exit(zygote.fail_code);
	if (place_fds(fds, n) < 0)
		_exit(GW_EXIT_BOOT);
	PyOS_AfterFork_Child();
	gw_preloaded = 1;
	gw_release_main();
}

/* fork_worker forks a worker through a middle process and returns its
 * pid (in the zygote), 0 (in the worker), or -1 with errno. The middle
 * process reports the worker's pid on a pipe and exits, which makes the
 * master the worker's parent before the zygote answers the master. */
static pid_t fork_worker(const int *fds, int n)
{
	int p[2], status;
	pid_t middle, worker;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	if (zygote.fail_code == 0)
		PyOS_BeforeFork();
	middle = fork();
	if (middle == 0) {
		pid_t self = getpid(), w;
		close(p[0]);
		w = fork();
		if (w == 0) {
			close(p[1]);
			become_worker(self, fds, n);
			return 0;
		}
		if (w < 0)
			w = -errno;
		_exit(write(p[1], &w, sizeof w) == sizeof w ? 0 : 1);
	}
	worker = middle < 0 ? -errno : -EIO;
	if (zygote.fail_code == 0)
		PyOS_AfterFork_Parent();
	close(p[1]);
	if (middle > 0) {
		if (read(p[0], &worker, sizeof worker) != sizeof worker)
			worker = -EIO;
		while (waitpid(middle, &status, 0) < 0 && errno == EINTR) {
		}
	}
	close(p[0]);
	if (worker < 0) {
		errno = -worker;
		return -1;
	}
	return worker;
}

/* receive reads one request from the master into word and fds; returns
 * the number of descriptors, or -1 once the master has gone away. */
static int receive(char *word, size_t size, int *fds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
	} ctl;
	struct iovec iov = {word, size - 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
	ssize_t r;
	int n = 0;

	do
		r = recvmsg(zygote.sock, &msg, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;
	word[r] = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		memcpy(fds + n, CMSG_DATA(c), k * sizeof(int));
		n += k;
	}
	if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))
		word[0] = 0; /* not a request we understand */
	return n;
}

/* serve answers spawn requests until the master goes away. Returns 0 in
 * a forked worker; the zygote itself exits. */
static int serve(void)
{
	for (;;) {
		char word[16];
		int fds[MAX_FDS], n = receive(word, sizeof word, fds);
		pid_t pid = -1;

		if (n < 0)
			_exit(0);
		if (strcmp(word, "spawn") != 0 || n != zygote.nfds) {
			gw_zygote_sayf("error a spawn request carries %d descriptors; want %d", n, zygote.nfds);
		} else if ((pid = fork_worker(fds, n)) == 0) {
			return 0;
		} else if (pid < 0) {
			gw_zygote_sayf("error fork: %s", strerror(errno));
		} else {
			gw_zygote_sayf("pid %d", (int)pid);
		}
		for (int i = 0; i < n; i++)
			close(fds[i]);
	}
}

/* gw_zygote runs before main in every process of the binary (glibc
 * passes the constructors of the executable argc, argv and envp); it is
 * a no-op unless GW_ZYGOTE_ENV is set. */
__attribute__((constructor)) static void gw_zygote(int argc, char **argv, char **envp)
{
	sigset_t none;
	char head[32];

	if (!take_marker(envp))
		return;
	zygote.master = getppid();
	if (argc > 0)
		prctl(PR_SET_NAME, argv[0]); /* ps -o comm: "gowsgi: zygote" */
	/* a credential change (--user) cleared the one the master set */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != zygote.master)
		_exit(GW_EXIT_BOOT);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (read_block() < 0) {
		fprintf(stderr, "gowsgi zygote: no valid boot block on fd %d; "
				"the zygote is started by the gowsgi master only\n", GW_ZYGOTE_BOOT_FD);
		_exit(GW_EXIT_BOOT);
	}
	zygote.nfds = 2 + atoi(zygote.field[F_LISTENERS]);
	zygote.fail_code = atoi(zygote.field[F_FAIL_CODE]);
	if (zygote.nfds > MAX_FDS || reserve_fds() < 0) {
		fprintf(stderr, "gowsgi zygote: cannot set up its descriptors: %s\n", strerror(errno));
		_exit(GW_EXIT_BOOT);
	}
	if (zygote.fail_code != 0) {
		snprintf(head, sizeof head, "failed %d\n", zygote.fail_code);
		gw_zygote_say_text(head, zygote.field[F_FAIL_TEXT]);
	} else {
		zygote.fail_code = load();
	}
	if (serve() != 0)
		_exit(GW_EXIT_BOOT);
}
