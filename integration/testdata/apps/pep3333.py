"""Apps for the PEP 3333 integration tests (pep3333_test.go).

The well-behaved apps are wrapped in wsgiref.validate.validator with its
warnings turned into errors, so any PEP 3333 violation by the server --
or by the app -- becomes a 500 and a traceback in the log. The apps that
misbehave on purpose are plain, or the validator would catch them first.
"""
import io
import json
import os
import sys
import time
import warnings
import wsgiref.validate
from urllib.parse import parse_qsl

warnings.simplefilter("error", wsgiref.validate.WSGIWarning)
validated = wsgiref.validate.validator

TEXT = [("Content-Type", "text/plain")]


def query(environ):
    return dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))


def mark(q, what):
    """Appends a line to the file named by ?mark=, so a test in another
    process can count calls."""
    if "mark" in q:
        with open(q["mark"], "a") as f:
            f.write(what + "\n")


def describe(value):
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, tuple)):
        return [type(value).__name__, repr(value)]
    return [type(value).__name__, None]


@validated
def environ(environ, start_response):
    """The environ as JSON: str values as they are, others as [type, repr]."""
    env = {k: describe(v) for k, v in environ.items()}
    env["wsgi.input"] = [type(environ["wsgi.input"].input).__name__, None]
    env["wsgi.errors"] = [type(environ["wsgi.errors"].errors).__name__, None]
    body = json.dumps(env).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _input_ops(inp, ops):
    out = []
    for op in ops.split(","):
        name, _, arg = op.partition(":")
        args = () if arg == "" else (int(arg),)
        if name == "iter":
            out.append([line.decode("latin-1") for line in inp])
        elif name == "readlines":
            out.append([line.decode("latin-1") for line in inp.readlines(*args)])
        else:
            out.append(getattr(inp, name)(*args).decode("latin-1"))
    return out


@validated
def input_ops(environ, start_response):
    """Runs ?ops=read:3,readline,readline:5,readlines:10,iter,read:-1 on
    wsgi.input and returns the results as JSON."""
    result = _input_ops(environ["wsgi.input"], query(environ)["ops"])
    body = json.dumps(result, separators=(",", ":")).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def input_raw(environ, start_response):
    """read() without an argument, which the validator forbids but PEP 3333
    servers commonly allow; then read() again at EOF."""
    inp = environ["wsgi.input"]
    first, again = inp.read(), inp.read()
    body = json.dumps([len(first), again.decode(), environ.get("CONTENT_LENGTH"),
                       environ["wsgi.input_terminated"]], separators=(",", ":")).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [first[:64] + b"|" + body]


@validated
def digest(environ, start_response):
    """Reads the body in 64 KiB blocks and answers its length and SHA-256."""
    import hashlib
    h, n = hashlib.sha256(), 0
    inp = environ["wsgi.input"]
    while True:
        block = inp.read(65536)
        if not block:
            break
        h.update(block)
        n += len(block)
    body = ("%d %s %s" % (n, h.hexdigest(), environ.get("CONTENT_LENGTH"))).encode()
    start_response("200 OK", TEXT)
    return [body]


@validated
def ignore_body(environ, start_response):
    start_response("200 OK", TEXT + [("Content-Length", "7")])
    return [b"ignored"]


@validated
def errors(environ, start_response):
    """Writes to wsgi.errors: a line in two pieces, two lines at once,
    writelines and a flushed partial line."""
    err = environ["wsgi.errors"]
    tag = query(environ).get("tag", "")
    err.write("first " + tag)
    err.write(" line\nsecond " + tag + "\nthird " + tag + "\n")
    err.writelines(["fourth " + tag + "\n"])
    err.write("fifth " + tag)
    err.flush()
    print("sixth", tag, file=err)
    start_response("200 OK", TEXT)
    return [b"logged"]


def framing_list(environ, start_response):
    """?status= &cl= (the Content-Length the app declares) &size= (bytes it
    produces, in chunks of ?chunk=) &write=1 (through write()). Returns
    a list, so the server sees every block at once; framing is the same
    app behind the validator, whose iterator yields them one by one."""
    q = query(environ)
    status = q.get("status", "200 OK")
    code = int(status[:3])
    headers = [] if code in (204, 304) else list(TEXT)
    if "cl" in q:
        headers.append(("Content-Length", q["cl"]))
    size, chunk = int(q.get("size", "5")), int(q.get("chunk", "0")) or 1 << 30
    payload = (b"0123456789" * (size // 10 + 1))[:size] if code not in (204, 304) else b""
    parts = [payload[i:i + chunk] for i in range(0, len(payload), chunk)]
    write = start_response(status, headers)
    if q.get("write"):
        for p in parts:
            write(p)
        return []
    return parts


framing = validated(framing_list)


@validated
def tracked(environ, start_response):
    """A generator whose close() is recorded in ?mark=: ?n= chunks of
    ?size= bytes, raising at chunk ?fail= when given."""
    q = query(environ)
    n, size = int(q.get("n", "3")), int(q.get("size", "10"))
    fail = int(q["fail"]) if "fail" in q else -1

    def body():
        try:
            for i in range(n):
                if i == fail:
                    raise ValueError("deliberate failure at chunk %d" % i)
                yield b"x" * size
        finally:
            mark(q, "closed")

    start_response("200 OK", TEXT)
    return body()


@validated
def exc_info(environ, start_response):
    """The error-page pattern of PEP 3333: replace the status before the
    body (?late= tries it after the first chunk instead)."""
    q = query(environ)
    start_response("200 OK", TEXT)
    if q.get("late"):
        def body():
            yield b"partial"
            try:
                raise KeyError("late failure")
            except KeyError:
                start_response("500 Oops", TEXT, sys.exc_info())
            yield b"never sent"
        return body()
    try:
        raise KeyError("early failure")
    except KeyError:
        start_response("500 Oops", TEXT + [("X-Replaced", "yes")], sys.exc_info())
    return [b"error page"]


def _open_file(environ):
    q = query(environ)
    f = open(q["path"], "rb")
    f.seek(int(q.get("seek", "0")))
    return q, f


def file_region(environ, start_response):
    """wsgi.file_wrapper around a real file from ?seek=, with the app's
    Content-Length ?cl= when given, after ?prefix= bytes passed to
    write(); the close is recorded in ?mark=."""
    q, f = _open_file(environ)
    headers = list(TEXT)
    if "cl" in q:
        headers.append(("Content-Length", q["cl"]))
    write = start_response("200 OK", headers)
    if "prefix" in q:
        write(b"p" * int(q["prefix"]))
    wrapper = environ["wsgi.file_wrapper"](f)
    inner_close = wrapper.close
    def close():
        inner_close()
        mark(q, "closed %s" % f.closed)
    wrapper.close = close
    return wrapper


file_validated = validated(file_region)


def file_like(environ, start_response):
    """wsgi.file_wrapper around a file-like without fileno()."""
    start_response("200 OK", TEXT)
    return environ["wsgi.file_wrapper"](io.BytesIO(b"abcdefghij" * 5000), 3000)


@validated
def waits(environ, start_response):
    """Sends a first block, then waits up to 10 s for the file ?mark=,
    which the client creates once it has received that block: a server
    that delays the block until the next one is ready stalls here."""
    q = query(environ)
    start_response("200 OK", TEXT)

    def body():
        yield b"tick\n"
        deadline = time.monotonic() + 10
        while not os.path.exists(q["mark"]) and time.monotonic() < deadline:
            time.sleep(0.01)
        yield ("tock waited=%s" % os.path.exists(q["mark"])).encode()
    return body()


# ---- apps that break the rules on purpose (not validated) ----

def str_body(environ, start_response):
    start_response("200 OK", TEXT)
    return ["text, not bytes"]


def raise_before(environ, start_response):
    raise RuntimeError("raised before start_response")


def raise_after_start(environ, start_response):
    start_response("200 OK", TEXT)
    raise RuntimeError("raised after start_response")


def raise_mid_body(environ, start_response):
    q = query(environ)
    start_response("200 OK", TEXT)

    def body():
        try:
            yield b"a" * 100000
            raise RuntimeError("raised after the head was sent")
        finally:
            mark(q, "closed")
    return body()


def not_latin1(environ, start_response):
    start_response("200 OK", TEXT + [("X-Price", "10\u20ac")])
    return [b"never"]


def bare_status(environ, start_response):
    """str(code) as the status, which Gunicorn and uWSGI take."""
    start_response(str(201), TEXT)
    return [b"made"]


def header_pairs(environ, start_response):
    """Headers as Gunicorn and uWSGI take them besides a list of tuples:
    ?as=items (dict.items()), tuple, lists (a list of lists); ?as=dict
    passes the dict itself, whose keys are no pairs."""
    fields = {"Content-Type": "text/plain", "X-Pairs": "yes"}
    kind = environ["QUERY_STRING"].partition("=")[2]
    headers = {
        "items": fields.items(),
        "tuple": tuple(fields.items()),
        "lists": [list(p) for p in fields.items()],
        "dict": fields,
    }[kind]
    start_response("200 OK", headers)
    return [kind.encode()]


def bad_status(environ, start_response):
    start_response("OK", TEXT)
    return [b"never"]


def bad_header(environ, start_response):
    start_response("200 OK", TEXT + [("X-Split", "a\r\nSet-Cookie: evil=1")])
    return [b"never"]


def short_body(environ, start_response):
    """Declares 100 bytes and sends 10: the client must see the
    connection close rather than wait forever."""
    start_response("200 OK", TEXT + [("Content-Length", "100")])
    return [b"0123456789"]


def endless(environ, start_response):
    """Streams until the client goes away (or ?n= chunks); close() is
    recorded in ?mark=."""
    q = query(environ)
    start_response("200 OK", TEXT)

    def body():
        try:
            for _ in range(int(q.get("n", "100000"))):
                yield b"z" * 65536
        finally:
            mark(q, "closed")
    return body()


def pid(environ, start_response):
    start_response("200 OK", TEXT)
    return [str(os.getpid()).encode()]


def slow(environ, start_response):
    q = query(environ)
    mark(q, "started")
    time.sleep(float(q.get("seconds", "1")))
    start_response("200 OK", TEXT)
    return [b"slept"]


def write_then_wait(environ, start_response):
    """write()s a first block, then waits (up to 10 s) for the file ?mark=
    to exist before returning the rest: the client can only create it
    after it has read the first block, so the block must leave while the
    app still runs."""
    import os
    import time
    q = query(environ)
    write = start_response("200 OK", TEXT)
    write(b"first block;")
    deadline = time.monotonic() + 10
    while not os.path.exists(q["mark"]) and time.monotonic() < deadline:
        time.sleep(0.01)
    return [b"rest"]


def write_then_raise(environ, start_response):
    write = start_response("200 OK", TEXT)
    write(b"partial;")
    raise RuntimeError("failed after write()")
