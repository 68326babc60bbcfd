"""ASGI apps exercising pyshim's ASGI runtime directly (no HTTP)."""
import asyncio
import contextvars
import json
import os
import urllib.parse


def params(scope):
    return dict(urllib.parse.parse_qsl(scope["query_string"].decode()))


async def start(send, status=200, headers=()):
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})


async def scope_json(scope, receive, send):
    """Answers with the scope, bytes as latin-1 text."""
    if scope["type"] == "lifespan":
        return await lifespan_state(scope, receive, send)

    def plain(v):
        if isinstance(v, bytes):
            return v.decode("latin-1")
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    scope["state"]["mine"] = "per request"  # a shallow copy: never seen again
    body = json.dumps(plain(scope)).encode()
    await start(send, 200, [(b"content-type", b"application/json")])
    await send({"type": "http.response.body", "body": body})


async def lifespan_state(scope, receive, send):
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            scope["state"]["db"] = "connected"
            await send({"type": "lifespan.startup.complete"})
        elif msg["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def echo(scope, receive, send):
    """Reads the whole body, chunk by chunk, and answers with it and the
    number of http.request events it took."""
    chunks = []
    while True:
        msg = await receive()
        assert msg["type"] == "http.request", msg
        chunks.append(msg["body"])
        if not msg["more_body"]:
            break
    await start(send, 200, [(b"x-events", str(len(chunks)).encode())])
    await send({"type": "http.response.body", "body": b"".join(chunks)})


async def stream(scope, receive, send):
    """?n=N&size=S: N body messages of S bytes, then an empty last one."""
    p = params(scope)
    n, size = int(p["n"]), int(p["size"])
    await start(send)
    for i in range(n):
        await send({"type": "http.response.body", "body": bytes([65 + i % 26]) * size, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def hello(scope, receive, send):
    await start(send, 200, [(b"content-type", b"text/plain")])
    await send({"type": "http.response.body", "body": b"hello"})


async def broken(scope, receive, send):
    """?how=...: the ways an app breaks the protocol."""
    how = params(scope)["how"]
    if how == "body-first":
        await send({"type": "http.response.body", "body": b"x"})
    elif how == "twice":
        await start(send)
        await send({"type": "http.response.body", "body": b"done"})
        await send({"type": "http.response.body", "body": b"again"})
    elif how == "raise-before":
        raise ValueError("failed before the response")
    elif how == "raise-after":
        await start(send)
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise ValueError("failed in the middle")
    elif how == "return":
        return
    elif how == "bad-header":
        await start(send, 200, [("content-type", "text/plain")])
    elif how == "start-retry":
        try:
            await start(send, 200, [("content-type", "text/plain")])
        except TypeError:
            await start(send, 200, [(b"content-type", b"text/plain")])
        await send({"type": "http.response.body", "body": b"fixed"})
    elif how == "unknown":
        await send({"type": "http.response.nonsense"})
    elif how == "mutated-header":
        # The second pair, an iterator, changes the first (a list, checked
        # already) while the headers are read: the value sent must be the
        # one checked last.
        first = [b"x-first", b"short"]

        def later():
            first[1] = 12345
            yield b"x-later"
            yield b"v"
        await start(send, 200, [first, later()])


async def disconnect(scope, receive, send):
    """Waits for http.disconnect after the body, then sends anyway: the
    send raises ClientDisconnected (an OSError)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    await start(send)


async def blocker(scope, receive, send):
    """Blocks the whole loop in a blocking read of the pipe ?fd=N, as a
    CPU-bound or blocking handler would."""
    fd = int(params(scope)["fd"])
    data = blocking_read(fd)
    await start(send)
    await send({"type": "http.response.body", "body": data})


def blocking_read(fd):
    return os.read(fd, 100)


taken = 0  # requests take_fails answered without ?fd=


async def take_fails(scope, receive, send):
    """With ?fd=: blocks the loop until the fd has data (the test queues
    requests meanwhile), then has the runtime take the queued events
    with the allocation after the first ?after= failing
    (_testcapi.set_nomemory), as on a loop out of memory; answers what
    the take raised. Without: answers how many such requests came before
    it and this one, which shows the order the loop took them in."""
    global taken
    p = params(scope)
    if "fd" not in p:
        taken += 1
        await start(send)
        await send({"type": "http.response.body", "body": b"%d" % taken})
        return
    import sys
    import _testcapi
    runtime = sys.modules["_gowsgi_asgi"]
    blocking_read(int(p["fd"]))
    real = runtime._c

    class Failing:  # the runtime's _c for one take
        out = staticmethod(real.out)

        @staticmethod
        def take(q, state):
            runtime._c = real
            # One allocation fails, not every one from there on: with
            # all failing, raising the MemoryError itself could fail, which
            # CPython cannot recover from (a fatal error).
            n = int(p["after"])
            _testcapi.set_nomemory(n, n + 1)
            try:
                return real.take(q, state)
            finally:
                _testcapi.remove_mem_hooks()

    runtime._c = Failing
    try:
        runtime.rt.wake()
        result = b"taken"
    except MemoryError:
        result = b"MemoryError"
    await start(send)
    await send({"type": "http.response.body", "body": result})


async def start_fails(scope, receive, send):
    """With ?fd=: blocks the loop until the fd has data (the test queues
    requests meanwhile), then makes the runtime's next ?cls= (HTTPCycle
    or WSCycle, or its dispatch of any other event) raise MemoryError
    once, as on a loop out of memory, and answers "armed". Without, an
    HTTP request answers, and a WebSocket
    sends as its one message, how many requests of either came before
    it and this one (take_fails's count), which shows the order they
    were started in."""
    global taken
    p = params(scope)
    if "fd" in p:
        import sys
        runtime = sys.modules["_gowsgi_asgi"]
        blocking_read(int(p["fd"]))
        if p["cls"] == "dispatch":
            rt = runtime.rt

            def failing(*args):
                del rt.dispatch  # the class's again
                raise MemoryError

            rt.dispatch = failing
        else:
            real = getattr(runtime, p["cls"])

            class Failing(real):
                __slots__ = ()

                def __init__(self, *args):
                    setattr(runtime, p["cls"], real)
                    raise MemoryError

            setattr(runtime, p["cls"], Failing)
        await start(send)
        await send({"type": "http.response.body", "body": b"armed"})
        return
    taken += 1
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": str(taken)})
        await send({"type": "websocket.close"})
        return
    await start(send)
    await send({"type": "http.response.body", "body": b"%d" % taken})


async def spinner(scope, receive, send):
    """Spins the loop in Python code until the file ?path= exists: in
    the request's own task; with ?task=1 in a task it starts and awaits,
    as a middleware's task group runs the endpoint; with ?task=own in a
    task started in a context of its own, as one started at lifespan
    startup is."""
    p = params(scope)
    if p.get("task") == "own":
        await asyncio.get_running_loop().create_task(spin(p["path"]), context=contextvars.Context())
    elif p.get("task"):
        await asyncio.get_running_loop().create_task(spin(p["path"]))
    else:
        await spin(p["path"])
    await start(send)
    await send({"type": "http.response.body", "body": b"spun"})


async def spin(path):
    open(path + ".spinning", "w").close()  # the test asks once the loop spins here
    n = 0
    while True:
        n += 1
        # Python code, which gives up the GIL only when asked, at a
        # switch; looking for the file lets go of it too, so seldom
        # enough (tens of ms) that a thread asking gets it first.
        if n % 1000000 == 0 and os.path.exists(path):
            return


async def zerocopy_bad(scope, receive, send):
    """An http.response.zerocopysend the runtime refuses, ?case=: a
    negative offset, a count that is no int, a pipe (not a regular
    file), or one before http.response.start."""
    case = params(scope)["case"]
    r, w = os.pipe()
    try:
        if case != "early":
            await start(send)
        with open(__file__, "rb") as f:
            msg = {"type": "http.response.zerocopysend", "file": f}
            if case == "offset":
                msg["offset"] = -1
            elif case == "count":
                msg["count"] = "10"
            elif case == "pipe":
                msg["file"] = r
            await send(msg)
    finally:
        os.close(r)
        os.close(w)


async def zerocopy_regions(scope, receive, send):
    """?n=N one-byte zerocopysend regions of this file, then the end."""
    n = int(params(scope)["n"])
    await start(send)
    with open(__file__, "rb") as f:
        for i in range(n):
            await send({"type": "http.response.zerocopysend", "file": f, "offset": i, "count": 1, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def sleeper(scope, receive, send):
    await receive()  # the caller sees SentWant: the app runs
    await asyncio.sleep(3600)


async def ws_echo(scope, receive, send):
    """Accepts with the first subprotocol offered and echoes until the
    client goes; a text "close" closes with 4000."""
    assert (await receive())["type"] == "websocket.connect"
    sub = scope["subprotocols"][0] if scope["subprotocols"] else None
    await send({"type": "websocket.accept", "subprotocol": sub, "headers": [(b"x-ws", b"yes")]})
    while True:
        msg = await receive()
        if msg["type"] == "websocket.disconnect":
            await asyncio.sleep(0)
            ws_log.append(msg)
            return
        if msg.get("text") == "close":
            await send({"type": "websocket.close", "code": 4000, "reason": "asked"})
            return
        if msg.get("text") is not None:
            await send({"type": "websocket.send", "text": msg["text"].upper()})
        else:
            await send({"type": "websocket.send", "bytes": msg["bytes"][::-1]})


ws_log = []


async def ws_deny(scope, receive, send):
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.http.response.start", "status": 403,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "websocket.http.response.body", "body": b"no entry"})


async def ws_broken(scope, receive, send):
    """?how=...: the ways a WebSocket app breaks the protocol."""
    assert (await receive())["type"] == "websocket.connect"
    how = scope["query_string"].decode()
    if how == "how=close-code":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 2**32 + 1000})
    elif how == "how=close-reason":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000, "reason": "é" * 62})
    elif how == "how=deny-status":
        await send({"type": "websocket.http.response.start", "status": 2**32 + 403})


async def lifespan_fail(scope, receive, send):
    assert scope["type"] == "lifespan"
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "the database is down"})


async def lifespan_raise(scope, receive, send):
    if scope["type"] == "lifespan":
        raise RuntimeError("this app knows no lifespan")
    await hello(scope, receive, send)


class ASGI2:
    """An ASGI 2 (double-callable) app."""

    def __init__(self, scope):
        self.scope = scope

    async def __call__(self, receive, send):
        await hello(self.scope, receive, send)


BIG = bytes(range(256)) * 256  # 64 KiB: sent by reference, not copied (asgiout.c)


async def big(scope, receive, send):
    """BIG three times, then 8 KiB of a bytearray (copied: it may
    change); /bigrefs answers with BIG's reference count."""
    import sys
    await start(send)
    if scope["path"] == "/bigrefs":
        await send({"type": "http.response.body", "body": str(sys.getrefcount(BIG)).encode()})
        return
    for _ in range(3):
        await send({"type": "http.response.body", "body": BIG, "more_body": True})
    buf = bytearray(b"y" * 8192)
    await send({"type": "http.response.body", "body": buf, "more_body": True})
    buf[:] = b"z" * 8192  # after send(): what Go got must not change
    await send({"type": "http.response.body", "body": b""})


_idle = {}  # holds big_idle's watching task


async def big_idle(scope, receive, send):
    """/big-idle: BIG three times, then a task watches, with no request
    coming, for the references Go held to go (at most 5 s), and reports
    "big-idle: released" or "big-idle: kept N" through the loop's
    exception handler (the Loop's Log)."""
    import sys
    base = sys.getrefcount(BIG)
    await start(send)
    for _ in range(3):
        await send({"type": "http.response.body", "body": BIG, "more_body": True})
    await send({"type": "http.response.body", "body": b""})

    async def watch():
        for _ in range(500):
            if sys.getrefcount(BIG) <= base:
                return "released"
            await asyncio.sleep(0.01)
        return "kept %d" % (sys.getrefcount(BIG) - base)

    async def report():
        verdict = await watch()
        asyncio.get_running_loop().call_exception_handler({"message": "big-idle: " + verdict})
    _idle["task"] = asyncio.get_running_loop().create_task(report())


async def mix(scope, receive, send):
    """Routes by path to the apps above, for the leak loop; /objects
    answers with the number of allocated Python blocks."""
    path = scope["path"]
    if path == "/objects":
        import gc
        import sys
        gc.collect()
        await start(send)
        await send({"type": "http.response.body", "body": str(sys.getallocatedblocks()).encode()})
        return
    app = {"/hello": hello, "/echo": echo, "/stream": stream, "/broken": broken,
           "/ws": ws_echo, "/deny": ws_deny, "/big": big, "/bigrefs": big,
           "/big-idle": big_idle}[path]
    await app(scope, receive, send)


async def ws_two_senders(scope, receive, send):
    """Two tasks send at once, each a message as long as the budget (the
    test opens with 100 bytes): both await room in send() together; then
    "done", and close."""
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    await asyncio.gather(*(send({"type": "websocket.send", "bytes": bytes([i]) * 100}) for i in range(2)))
    await send({"type": "websocket.send", "text": "done"})
    await send({"type": "websocket.close", "code": 1000})


async def two_receivers(scope, receive, send):
    """Two tasks await receive() at once; answers with the bodies each
    got, in the tasks' order."""
    got = await asyncio.gather(receive(), receive())
    await start(send)
    await send({"type": "http.response.body", "body": b"|".join(m["body"] for m in got)})
