"""An app that forks, as multiprocessing's fork start method does, for
forking_test.go. /term forks a child that would sleep, sends it SIGTERM
and says how it ended; /pool maps over a multiprocessing.Pool, whose
__exit__ terminates its workers with SIGTERM; /stop-handler names the
worker's own Python handler of SIGTERM, which must stay gowsgi's."""
import multiprocessing
import os
import signal
import time


def _child_sleeps():
    try:
        time.sleep(30)
    finally:
        os._exit(0)


def app(environ, start_response):
    if environ["PATH_INFO"] == "/stop-handler":
        body = getattr(signal.getsignal(signal.SIGTERM), "__name__", repr(signal.getsignal(signal.SIGTERM)))
    elif environ["PATH_INFO"] == "/pool":
        with multiprocessing.get_context("fork").Pool(2) as pool:
            body = repr(pool.map(abs, range(-3, 3)))
    else:
        pid = os.fork()
        if pid == 0:
            _child_sleeps()
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        status = None
        while status is None and time.monotonic() < deadline:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
            else:
                time.sleep(0.01)
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            body = "alive after SIGTERM"
        elif os.WIFSIGNALED(status):
            body = "killed by signal %d" % os.WTERMSIG(status)
        else:
            body = "exited %d" % os.WEXITSTATUS(status)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
