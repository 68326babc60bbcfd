/*
 * zygote.h: the --preload zygote (zygote.c, preload.c) and what a
 * worker forked by it needs from the Go side (zygote.go).
 *
 * The numbers and message words here are a contract with the master
 * (handoff/zygote.go), which cannot include C: keep them equal;
 * a test in package worker compares them.
 */
#ifndef GOWSGI_ZYGOTE_H
#define GOWSGI_ZYGOTE_H

/* The environment variable that makes a process of this binary the
 * zygote. The zygote removes it before Python starts, so neither the
 * app nor any worker or subprocess sees it. */
#define GW_ZYGOTE_ENV "GOWSGI_ZYGOTE"

/* File descriptors of the zygote process: the boot block (written by
 * ExecZygote) and the SOCK_SEQPACKET socket to the master. */
#define GW_ZYGOTE_BOOT_FD 3
#define GW_ZYGOTE_SOCKET_FD 4

/* A forked worker gets the descriptors of a spawn request at
 * GW_WORKER_FIRST_FD, GW_WORKER_FIRST_FD+1, ... in the order they were
 * sent: boot pipe, control pipe, listeners (handoff.ConfigFD, ControlFD,
 * FirstListenerFD...). */
#define GW_WORKER_FIRST_FD 3

/* gw_preloaded is 1 in a worker forked by the zygote: Python is
 * initialised, the app imported and the GIL released. Written before
 * the Go runtime starts, read-only afterwards. */
extern int gw_preloaded;

/* gw_adopt (preload.c) finishes the interpreter a preloaded worker
 * inherited: it interns the environ keys (gw_set_environ_keys) and
 * registers the fork hooks of the app's own forks, which the zygote
 * must not have (gw_register_fork_hooks). Called
 * WITHOUT the GIL, from any thread. Returns 0, or -1 with *err set
 * (malloc'd). */
int gw_adopt(const char *const *keys, int n, char **err);

#endif
