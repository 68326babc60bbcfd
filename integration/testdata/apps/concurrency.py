"""Apps for the worker concurrency tests: threads, slow clients, stuck
workers. Every response says which worker served it (X-Worker: pid)."""
import ctypes
import os
import threading
import time

PID = str(os.getpid())


def _query(environ):
    return dict(p.split("=", 1) for p in environ["QUERY_STRING"].split("&") if "=" in p)


def _headers(length=None):
    h = [("Content-Type", "text/plain"), ("X-Worker", PID)]
    if length is not None:
        h.append(("Content-Length", str(length)))
    return h


def hello(environ, start_response):
    body = b"hello from " + PID.encode()
    start_response("200 OK", _headers(len(body)))
    return [body]


_barrier = None
_barrier_lock = threading.Lock()


def together(environ, start_response):
    """Waits until ?n requests are inside the app at once (10 s at most),
    then sleeps 100 ms: 200 proves they ran in parallel, 504 that they
    could not."""
    global _barrier
    n = int(_query(environ).get("n", "4"))
    with _barrier_lock:
        if _barrier is None:
            _barrier = threading.Barrier(n)
        barrier = _barrier
    try:
        barrier.wait(timeout=10)
        status = "200 OK"
    except threading.BrokenBarrierError:
        status = "504 Gateway Timeout"
    time.sleep(0.1)
    body = ("multithread=%s" % environ["wsgi.multithread"]).encode()
    start_response(status, _headers(len(body)))
    return [body]


_libc = ctypes.PyDLL(None)  # PyDLL: calls keep holding the GIL


def stuck(environ, start_response):
    """Writes the worker's pid to ?mark, then sleeps ?seconds inside a C
    call that holds the GIL: no Python thread of this worker runs."""
    q = _query(environ)
    if "mark" in q:
        with open(q["mark"] + ".tmp", "w") as f:
            f.write(PID)
        os.rename(q["mark"] + ".tmp", q["mark"])
    _libc.usleep(int(float(q.get("seconds", "3")) * 1e6))
    start_response("200 OK", _headers(0))
    return [b""]


def big(environ, start_response):
    """?size bytes: one bytes object, or a generator of 64 KiB pieces
    with ?gen=1 (no Content-Length). With ?mark, the generator writes how
    many bytes it produced to that file when it is closed."""
    q = _query(environ)
    size = int(q.get("size", str(1 << 20)))
    if q.get("gen") != "1":
        start_response("200 OK", _headers(size))
        return [b"b" * size]
    start_response("200 OK", _headers())

    def pieces():
        produced = 0
        try:
            while produced < size:
                n = min(size - produced, 65536)
                produced += n
                yield b"g" * n
        finally:
            if "mark" in q:
                with open(q["mark"] + ".tmp", "w") as f:
                    f.write(str(produced))
                os.rename(q["mark"] + ".tmp", q["mark"])
    return pieces()


def upload(environ, start_response):
    """Reads the whole body and answers with CONTENT_LENGTH, the bytes
    read, and whether wsgi.input is backed by a file."""
    data = environ["wsgi.input"].read()
    kind = "file" if _is_file(environ["wsgi.input"]) else "memory"
    body = ("%s %d %s %d" % (environ.get("CONTENT_LENGTH", "-"), len(data), kind, sum(data) % 251)).encode()
    start_response("200 OK", _headers(len(body)))
    return [body]


def _is_file(f):
    try:
        f.fileno()
        return True
    except (OSError, ValueError, AttributeError):
        return False


def threads(environ, start_response):
    """A generator of ?n 64 KiB pieces that writes to ?mark, when closed,
    the idents of the threads each piece was produced on (one line)."""
    q = _query(environ)
    start_response("200 OK", _headers())

    def pieces():
        seen = []
        try:
            for _ in range(int(q.get("n", "64"))):
                seen.append(threading.get_ident())
                yield b"t" * 65536
        finally:
            with open(q["mark"] + ".tmp", "w") as f:
                f.write(" ".join(str(i) for i in sorted(set(seen))))
            os.rename(q["mark"] + ".tmp", q["mark"])
    return pieces()


def nap(environ, start_response):
    """Sleeps ?ms milliseconds (GIL released), then answers like hello."""
    time.sleep(int(_query(environ).get("ms", "20")) / 1000)
    return hello(environ, start_response)


ROUTES = {"/hello": hello, "/nap": nap, "/together": together, "/stuck": stuck, "/big": big, "/upload": upload,
          "/threads": threads}


def app(environ, start_response):
    return ROUTES[environ["PATH_INFO"]](environ, start_response)
