"""Apps exercising the pyshim boundary directly (no HTTP)."""
import gc
import sys

closed = []


class Tracked:
    """An iterable that records close() calls."""

    def __init__(self, chunks, fail_at=None):
        self.chunks = chunks
        self.fail_at = fail_at

    def __iter__(self):
        for i, c in enumerate(self.chunks):
            if i == self.fail_at:
                raise ValueError("failed mid-stream")
            yield c

    def close(self):
        closed.append(1)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/hello":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]
    if path == "/environ":
        start_response("200 OK", [])
        keys = sorted(k for k in environ)
        return [repr((keys, environ["REQUEST_METHOD"], environ["wsgi.input"].read(),
                      environ["wsgi.version"], environ["wsgi.multithread"])).encode()]
    if path == "/stream":
        start_response("200 OK", [])
        return Tracked([b"a" * 10, b"b" * 100000, b"c" * 10])
    if path == "/fail-mid":
        start_response("200 OK", [])
        return Tracked([b"x" * 100000, b"y"], fail_at=1)
    if path == "/closed":
        start_response("200 OK", [])
        return [str(len(closed)).encode()]
    if path == "/objects":
        gc.collect()
        start_response("200 OK", [])
        # every block pymalloc holds, so leaked bytes and str count too
        return [str(sys.getallocatedblocks()).encode()]
    if path == "/exc-info-before-body":
        start_response("200 OK", [("X-First", "1")])
        try:
            raise KeyError("k")
        except KeyError:
            start_response("500 Oops", [("X-Second", "1")], sys.exc_info())
        return [b"replaced"]
    if path == "/twice":
        start_response("200 OK", [])
        start_response("200 OK", [])
        return [b""]
    if path == "/str-body":
        start_response("200 OK", [])
        return ["not bytes"]
    if path == "/write":
        write = start_response("200 OK", [])
        write(b"from-write,")
        return [b"from-iter"]
    if path == "/latin1":
        start_response("200 OK", [("X-Name", "caf\u00e9")])
        return [b""]
    if path == "/not-latin1":
        start_response("200 OK", [("X-Name", "\u20ac")])
        return [b""]
    if path == "/no-start":
        return [b"body"]
    raise RuntimeError("no route " + path)
