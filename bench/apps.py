"""WSGI applications for `make bench`: one module-level callable per workload.

Every server loads them as ``apps:<name>`` with ``bench/`` on its Python
path, so gowsgi and its peers run exactly the same code.

    hello      200 text/plain b"Hello, World!" (13 bytes) with Content-Length
    big        one 1 MiB bytes object with Content-Length
    bigfile    a real 1 MiB file through wsgi.file_wrapper with Content-Length
               (servers that implement the PEP 3333 fast path use sendfile)
    chunks     64 x 16 KiB yielded from a generator, no Content-Length
               (an HTTP/1.1 server must use chunked framing or close)
    upload     reads wsgi.input fully (CONTENT_LENGTH bytes), answers the length
    sleepy     time.sleep(0.02) then hello: a request waiting on a backend
    flask_app  tiny Flask app, GET /json -> {"message":"Hello, World!"}
    django_app a Django JSON view, GET /json -> {"message": "Hello, World!"},
               through the default middleware stack (djbench/)
    pyfloor    not a workload: runs pyfloor.py's in-process loop in the
               server's worker and answers the CPU per call

Only the standard library is needed, except for ``flask_app`` and
``django_app``: the framework is imported by the first request that
reaches it (in each worker), so the other workloads neither need it nor
pay its memory.
"""

import os
import time

HELLO_BODY = b"Hello, World!"
HELLO_HEADERS = [
    ("Content-Type", "text/plain"),
    ("Content-Length", str(len(HELLO_BODY))),
]


def hello(environ, start_response):
    start_response("200 OK", HELLO_HEADERS)
    return [HELLO_BODY]


BIG_SIZE = 1024 * 1024
BIG_BODY = b"x" * BIG_SIZE
BIG_HEADERS = [
    ("Content-Type", "application/octet-stream"),
    ("Content-Length", str(BIG_SIZE)),
]


def big(environ, start_response):
    start_response("200 OK", BIG_HEADERS)
    return [BIG_BODY]


BIG_FILE = os.environ.get("BENCH_BIGFILE", "/tmp/gowsgi-bench-1MiB.bin")


def _ensure_big_file():
    # Every worker of every server imports this module: write under a
    # private name and rename, so no reader ever sees a partial file.
    try:
        if os.path.getsize(BIG_FILE) == BIG_SIZE:
            return
    except OSError:
        pass
    tmp = f"{BIG_FILE}.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(b"f" * BIG_SIZE)
    os.replace(tmp, BIG_FILE)


_ensure_big_file()


def bigfile(environ, start_response):
    start_response("200 OK", BIG_HEADERS)
    f = open(BIG_FILE, "rb")
    wrapper = environ.get("wsgi.file_wrapper")
    if wrapper is None:
        return _read_blocks(f)
    return wrapper(f, 64 * 1024)


def _read_blocks(f):
    with f:
        while block := f.read(64 * 1024):
            yield block


CHUNK = b"c" * (16 * 1024)
N_CHUNKS = 64


def _chunk_gen():
    for _ in range(N_CHUNKS):
        yield CHUNK


def chunks(environ, start_response):
    # Deliberately no Content-Length: the server must frame the body itself.
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return _chunk_gen()


def upload(environ, start_response):
    try:
        remaining = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        remaining = 0
    stream = environ["wsgi.input"]
    total = 0
    while remaining > 0:
        data = stream.read(min(remaining, 64 * 1024))
        if not data:
            break
        total += len(data)
        remaining -= len(data)
    body = str(total).encode("ascii")
    start_response("200 OK", [
        ("Content-Type", "text/plain"),
        ("Content-Length", str(len(body))),
    ])
    return [body]


def sleepy(environ, start_response):
    time.sleep(0.02)
    return hello(environ, start_response)


def _make_flask_app():
    from flask import Flask, jsonify

    app = Flask(__name__)

    @app.route("/json")
    def json_route():
        return jsonify(message="Hello, World!")

    return app


class _LazyFlaskApp:
    """Module-level WSGI callable that builds the Flask app on first request.

    A real attribute (not a module ``__getattr__``) because uWSGI looks the
    callable up in the module dict. Flask is imported when a request
    reaches it, in each worker, for every server alike.
    """

    app = None

    def __call__(self, environ, start_response):
        app = self.app
        if app is None:
            app = _LazyFlaskApp.app = _make_flask_app()
        return app(environ, start_response)


flask_app = _LazyFlaskApp()


class _LazyDjangoApp:
    """django_app: Django's WSGI handler for djbench, built on first request
    like flask_app."""

    app = None

    def __call__(self, environ, start_response):
        app = self.app
        if app is None:
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djbench.settings")
            from django.core.wsgi import get_wsgi_application

            app = _LazyDjangoApp.app = get_wsgi_application()
        return app(environ, start_response)


django_app = _LazyDjangoApp()


def pyfloor(environ, start_response):
    """The Python floor measured inside the server's worker: pyfloor.py."""
    import pyfloor as floor

    return floor.pyfloor(environ, start_response)
