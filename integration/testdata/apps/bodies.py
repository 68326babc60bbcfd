"""Apps for the request body tests (integration/bodies_test.go)."""
import hashlib
import os
import stat
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
    whole body in 64 KiB pieces and answers "sha256 bytes kind"."""
    q = _query(environ)
    if "arrived" in q:
        open(os.path.join(q["arrived"], "%d-%d" % (os.getpid(), id(environ))), "w").close()
    if "gate" in q:
        deadline = time.monotonic() + 60
        while not os.path.exists(q["gate"]) and time.monotonic() < deadline:
            time.sleep(0.01)
    f = environ["wsgi.input"]
    h, n = hashlib.sha256(), 0
    while True:
        piece = f.read(65536)
        if not piece:
            break
        h.update(piece)
        n += len(piece)
    body = ("%s %d %s" % (h.hexdigest(), n, _kind(f))).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


ROUTES = {"/digest": digest, "/hello": hello}


def app(environ, start_response):
    return ROUTES[environ["PATH_INFO"]](environ, start_response)
