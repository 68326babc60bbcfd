"""Apps for the --preload integration tests: each tells which process
imported it, so a test can tell a forked worker from a re-imported one."""
import gc
import json
import os
import threading

IMPORTED_BY = os.getpid()


def app(environ, start_response):
    body = json.dumps({
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "imported_by": IMPORTED_BY,
        "frozen": gc.get_freeze_count(),
        "marker": os.environ.get("GOWSGI_ZYGOTE"),
        "threads": [t.name for t in threading.enumerate()],
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _tick():
    threading.Event().wait()


def with_thread():
    """A factory that starts a thread while the app is imported; a
    forked worker does not have it."""
    threading.Thread(target=_tick, name="preload-test-ticker", daemon=True).start()
    return app


def printing():
    """A factory that prints while the app is imported, to a stdout that
    is a pipe (so block-buffered)."""
    print("preload-test: printed at import")
    return app
