# Every Gunicorn server hook, each appending "PID EVENT DETAILS..." to
# the file named by $HOOK_EVENTS, so that hooks_test.go can check that
# each ran at its moment and in its process.
import os
import time

EVENTS = os.environ["HOOK_EVENTS"]


def _event(*fields):
    line = " ".join(str(f) for f in (os.getpid(),) + fields)
    with open(EVENTS, "a") as f:
        f.write(line + "\n")


def _meaningless(obj, name):
    try:
        getattr(obj, name)
    except AttributeError as e:
        return "raises:" + str(e).replace(" ", "_")
    return "returned"


def nworkers_changed(server, new_value, old_value):
    _event("nworkers_changed", server.pid, new_value, old_value)


def on_starting(server):
    server.log.warning("on_starting hook: %d workers", server.cfg.workers)
    _event("on_starting", server.pid, server.num_workers, server.cfg.timeout)


def when_ready(server):
    _event("when_ready", server.pid, repr(server.address).replace(" ", ""), server.timeout)


def on_reload(server):
    _event("on_reload", server.pid, server.num_workers)


def pre_fork(server, worker):
    # What a hook stores on server is there in the next hook, as on
    # Gunicorn's one arbiter (until a HUP's new hook host).
    server.forks = getattr(server, "forks", 0) + 1
    # What pre_fork stores on the worker is there in server.WORKERS, in
    # child_exit and in the worker's own hooks, as authentik's worker ids.
    noted = sum(1 for w in server.WORKERS.values() if hasattr(w, "note"))
    worker.note = "noted-%d" % worker.age
    _event("pre_fork", server.pid, worker.pid, worker.age, server.forks, noted)


def post_fork(server, worker):
    worker.log.info("post_fork hook in %s", worker.pid)
    _event("post_fork", server.pid, worker.pid, worker.ppid, worker.age, worker.alive, getattr(worker, "note", None))


def post_worker_init(worker):
    _event("post_worker_init", worker.pid, worker.wsgi.__name__, _meaningless(worker, "tmp"),
           worker.app.callable is worker.wsgi)


def pre_request(worker, req):
    req.started = time.monotonic()
    _event("pre_request", worker.pid, req.method, req.path, req.query, dict(req.headers).get("X-HOOK-TEST"))


def post_request(worker, req, environ, resp):
    _event("post_request", worker.pid, req.uri, environ["PATH_INFO"], resp.status_code,
           hasattr(req, "started"), dict(resp.headers).get("Content-Type"))


def worker_int(worker):
    _event("worker_int", worker.pid, worker.alive)


def worker_abort(worker):
    _event("worker_abort", worker.pid)


def worker_exit(server, worker):
    _event("worker_exit", server.pid, worker.pid, worker.alive)


def child_exit(server, worker):
    _event("child_exit", server.pid, worker.pid, worker.age, getattr(worker, "note", None))


def pre_exec(server):
    _event("pre_exec", server.pid)


def on_exit(server):
    _event("on_exit", server.pid)
