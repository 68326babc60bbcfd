"""Apps for the operability tests: metrics, status, request timeouts,
memory recycling and request ids."""
import ctypes
import os
import time

_leak = []


def _query(environ):
    return dict(p.split("=", 1) for p in environ["QUERY_STRING"].split("&") if "=" in p)


def _reply(start_response, status, body):
    body = body.encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def app(environ, start_response):
    path = environ["PATH_INFO"]
    q = _query(environ)
    if path == "/loop":
        n = 0
        while True:  # LOOP-HERE
            n += 1
    if path == "/csleep":
        ctypes.CDLL(None).sleep(int(q.get("s", "30")))  # CSLEEP-HERE
        return _reply(start_response, "200 OK", "woke")
    if path == "/leak":
        _leak.append(bytearray(int(q.get("kb", "1024")) * 1024))
        return _reply(start_response, "200 OK", str(os.getpid()))
    if path == "/fail":
        raise RuntimeError("failing on purpose")
    if path == "/id":
        return _reply(start_response, "200 OK", environ.get("HTTP_X_REQUEST_ID", "-"))
    if path == "/status/404":
        return _reply(start_response, "404 Not Found", "no")
    ms = int(q.get("ms", "0"))
    if ms:
        time.sleep(ms / 1000)  # SLOW-HERE
    return _reply(start_response, "200 OK", str(os.getpid()))


# For --preload: ~60 MB of Python objects made at import, shared with the
# workers the zygote forks; they must not count as a worker's own memory.
BIG = None


def big():
    """A factory: gowsgi --preload operability:big()."""
    global BIG
    BIG = [str(i) * 10 for i in range(600_000)]
    return app
