"""Apps for the request body tests (integration/bodies_test.go)."""
import hashlib
import os
import stat
import sys
import threading
import time


def _query(environ):
    return dict(p.split("=", 1) for p in environ["QUERY_STRING"].split("&") if "=" in p)


def _kind(f):
    """How wsgi.input is backed: memory, a spilled file, or a stream
    (the app's end of a socket pair)."""
    try:
        mode = os.fstat(f.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return "memory"
    return "stream" if stat.S_ISSOCK(mode) else "file"


def digest(environ, start_response):
    """With ?arrived=DIR, creates DIR/<pid>-<id> on arrival; with
    ?gate=PATH, waits for PATH to exist before reading. Then reads the
    whole body in 64 KiB pieces (with ?exact=1, CONTENT_LENGTH bytes at
    once, not to the end; with ?huge=1, read(10**12) then
    read(sys.maxsize), sizes no body has) and answers "sha256 bytes
    kind"."""
    q = _query(environ)
    if "arrived" in q:
        open(os.path.join(q["arrived"], "%d-%d" % (os.getpid(), id(environ))), "w").close()
    if "gate" in q:
        deadline = time.monotonic() + 60
        while not os.path.exists(q["gate"]) and time.monotonic() < deadline:
            time.sleep(0.01)
    f = environ["wsgi.input"]
    h, n = hashlib.sha256(), 0
    if "exact" in q:  # read(CONTENT_LENGTH) once, as Django and werkzeug do, not to the end
        piece = f.read(int(environ["CONTENT_LENGTH"]))
        h.update(piece)
        n = len(piece)
    if "huge" in q:
        for size in (10**12, sys.maxsize):
            piece = f.read(size)
            h.update(piece)
            n += len(piece)
    while "exact" not in q and "huge" not in q:
        piece = f.read(65536)
        if not piece:
            break
        h.update(piece)
        n += len(piece)
    body = ("%s %d %s" % (h.hexdigest(), n, _kind(f))).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5"), ("X-Worker", str(os.getpid()))])
    return [b"hello"]


def big(environ, start_response):
    """?n pieces of 256 KiB with a Content-Length, ?delay_ms apart. With
    ?mark, the file is created when the iterable is closed."""
    q = _query(environ)
    n, delay = int(q.get("n", "16")), float(q.get("delay_ms", "0")) / 1000
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(n << 18))])

    def pieces():
        try:
            for i in range(n):
                if i and delay:
                    time.sleep(delay)
                yield b"b" * (1 << 18)
        finally:
            if "mark" in q:
                open(q["mark"], "w").close()
    return pieces()


def write(environ, start_response):
    """The response through the write() callable."""
    w = start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    w(b"hello")
    return []


_barrier, _barrier_lock = None, threading.Lock()


def together(environ, start_response):
    """Waits until ?n requests are inside the app at once (10 s at most):
    200 proves they ran in parallel, 504 that they could not."""
    global _barrier
    n = int(_query(environ).get("n", "2"))
    with _barrier_lock:
        if _barrier is None:
            _barrier = threading.Barrier(n)
        barrier = _barrier
    try:
        barrier.wait(timeout=10)
        status = "200 OK"
    except threading.BrokenBarrierError:
        status = "504 Gateway Timeout"
    with _barrier_lock:
        if _barrier is barrier:
            _barrier = None
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", "0")])
    return [b""]


KEPT = []


def keep(environ, start_response):
    """Keeps wsgi.input past the request (as Django's request in a
    reference cycle does until a collection), then answers "kept KIND"."""
    KEPT.append(environ["wsgi.input"])
    body = ("kept " + _kind(environ["wsgi.input"])).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def kept(environ, start_response):
    """What reading the kept streams gives now: their sizes."""
    body = " ".join(str(len(f.read())) for f in KEPT).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


ROUTES = {"/keep": keep, "/kept": kept, "/digest": digest, "/hello": hello, "/big": big, "/write": write, "/together": together}


def app(environ, start_response):
    return ROUTES[environ["PATH_INFO"]](environ, start_response)
