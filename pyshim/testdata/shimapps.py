"""Apps exercising the pyshim boundary directly (no HTTP)."""
import ctypes
import gc
import sys

closed = []
stash = []
kept = []
advanced = []
progress = []
CHUNK = b"a chunk every exchange returns"
refs = {}


class Body:
    """An iterable that is not a list, so the exchange iterates it."""

    def __init__(self, chunks):
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)


def input_ops(inp, ops):
    """Runs "read:3,readline,readlines:5,iter,..." on wsgi.input."""
    out = []
    for op in ops.split(","):
        name, _, arg = op.partition(":")
        args = () if arg == "" else (None,) if arg == "None" else (int(arg),)
        if name == "iter":
            out.append(list(inp))
        elif name == "readinto":
            buf = bytearray(int(arg))
            n = inp.readinto(buf)
            out.append(bytes(buf[:n]))
        else:
            out.append(getattr(inp, name)(*args))
    return repr(out).encode()


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
    if path == "/refs":
        # What the exchange must not keep: the iterable, start_response;
        # what it must give back: CHUNK's references.
        refs["body"] = Body([CHUNK, CHUNK])
        refs["chunk"] = sys.getrefcount(CHUNK)
        refs["start_response"] = start_response
        refs["errors"] = sys.getrefcount(environ["wsgi.errors"])
        start_response("200 OK", [])
        return refs["body"]
    if path == "/refs-check":
        gc.collect()
        start_response("200 OK", [])
        # getrefcount's own argument and refs hold the only references left
        return [repr((sys.getrefcount(CHUNK) - refs["chunk"], sys.getrefcount(refs["body"]),
                      sys.getrefcount(refs["start_response"]),
                      sys.getrefcount(environ["wsgi.errors"]) - refs["errors"])).encode()]
    if path == "/write-stream":
        # The imperative style of PEP 3333's write(): blocks while the app
        # runs, an empty one first, a big one, then an iterable.
        write = start_response("200 OK", [("X-Streamed", "yes")])
        progress.clear()
        for block in (b"", b"w0", b"w1", b"x" * 100000):
            try:
                write(block)
                progress.append("sent")
            except ConnectionError as e:
                progress.append(type(e).__name__)
        return [b"end"]
    if path == "/write-thread":
        import threading
        write = start_response("200 OK", [])
        t = threading.Thread(target=write, args=(b"from a thread",))
        t.start()
        t.join()
        return []
    if path == "/progress":
        start_response("200 OK", [])
        return [",".join(progress).encode()]
    if path == "/generator":
        # A generator whose second chunk would come late: it records
        # when it is asked for it.
        def gen():
            yield b"first"
            yield b""
            advanced.append(1)
            yield b"second"
        advanced.clear()
        start_response("200 OK", [])
        return gen()
    if path == "/advanced":
        start_response("200 OK", [])
        return [str(len(advanced)).encode()]
    if path == "/input-ops":
        start_response("200 OK", [])
        return [input_ops(environ["wsgi.input"], environ["OPS"])]
    if path == "/stash-input":
        stash[:] = [environ["wsgi.input"]]
        start_response("200 OK", [])
        return [b""]
    if path == "/read-stash":
        start_response("200 OK", [])
        return [repr(stash[0].read()).encode()]
    if path == "/errors":
        errors = environ["wsgi.errors"]
        errors.write("partial")
        errors.write(" line\nsecond\nthird")
        errors.write(" still third\n")
        errors.writelines(["a\n", "b"])
        errors.flush()
        errors.write("unterminated")
        start_response("200 OK", [])
        return [b""]
    if path == "/errors-keep":
        kept[:] = [environ["wsgi.errors"]]
        start_response("200 OK", [])
        return [b""]
    if path == "/errors-drop":
        # The last reference goes while a partial line is pending: the
        # stream's dealloc logs it.
        kept[0].write("left in a dropped stream")
        kept.clear()
        start_response("200 OK", [])
        return [b""]
    if path == "/errors-bytes":
        environ["wsgi.errors"].write(b"bytes")
    if path == "/file":
        f = open(environ["FILE"], "rb")
        f.seek(int(environ["SEEK"]))
        if "READ" in environ:
            f.read(int(environ["READ"]))  # the buffered position differs from the fd's
        start_response("200 OK", [])
        wrapper = environ["wsgi.file_wrapper"](f)
        stash[:] = [f]
        return wrapper
    if path == "/file-bytesio":
        import io
        start_response("200 OK", [])
        f = io.BytesIO(b"0123456789" * 10000)
        stash[:] = [f]
        return environ["wsgi.file_wrapper"](f, 4096)
    if path == "/stash-closed":
        start_response("200 OK", [])
        return [repr(stash[0].closed).encode()]
    if path == "/echo":
        start_response("200 OK", [])
        return [environ["wsgi.input"].read()]
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
    if path == "/hold-gil":
        # PyDLL calls keep the GIL: from the byte written on HOLD_W until
        # one arrives on HOLD_R, no other thread runs Python.
        libc = ctypes.PyDLL(None)
        buf = ctypes.create_string_buffer(1)
        libc.write(int(environ["HOLD_W"]), b"h", 1)
        libc.read(int(environ["HOLD_R"]), buf, 1)
        start_response("200 OK", [])
        return [b"released"]
    if path.startswith("/socket-"):
        return socket_app(environ, start_response, path[len("/socket-"):])
    raise RuntimeError("no route " + path)


def socket_app(environ, start_response, how):
    # environ["gunicorn.socket"], as simple-websocket and Flask-Sock use it.
    if how == "absent":
        start_response("200 OK", [])
        return [repr("gunicorn.socket" in environ).encode()]
    sock = environ["gunicorn.socket"]
    if how == "look":  # looked up and printed, not used: the response is sent
        start_response("200 OK", [])
        return [b"looked" if "client socket" in repr(environ) else b"no repr"]
    sock.sendall(b"spoken by the app")
    if how == "stop":  # Flask-Sock's ending: nothing more is to be sent
        raise StopIteration()
    if how == "raise":
        raise ValueError("after the session")
    start_response("200 OK", [])
    return [b"never sent"]
