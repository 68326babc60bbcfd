"""A plain ASGI app (no framework) for the ASGI worker's protocol tests:
runs under any CPython, so bin/gowsgi serves it."""
import asyncio
import os
import time
import urllib.parse


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            await send({"type": msg["type"] + ".complete"})
            if msg["type"] == "lifespan.shutdown":
                return
    q = dict(urllib.parse.parse_qsl(scope["query_string"].decode()))
    route = ROUTES[scope["path"][len(scope["root_path"]):]]
    await route(scope, receive, send, q)


async def start(send, status=200, headers=(), **extra):
    await send({"type": "http.response.start", "status": status, "headers": list(headers), **extra})


async def body_first(scope, receive, send, q):
    await send({"type": "http.response.body", "body": b"too early"})


async def raise_midway(scope, receive, send, q):
    """Sends ten of the 100 bytes it announced, waits for the client's
    body (it sends it once it has the ten), then raises."""
    await start(send, 200, [(b"content-length", b"100")])
    await send({"type": "http.response.body", "body": b"x" * 10, "more_body": True})
    await receive()
    raise RuntimeError("failed after ten bytes")


async def send_after_done(scope, receive, send, q):
    await start(send, 200, [(b"content-type", b"text/plain")])
    await send({"type": "http.response.body", "body": b"complete"})
    await send({"type": "http.response.body", "body": b"again"})


async def pathsend(scope, receive, send, q):
    assert "http.response.pathsend" in scope["extensions"]
    path = os.path.abspath(__file__)
    await start(send, 200, [(b"content-type", b"text/x-python"),
                            (b"content-length", b"%d" % os.path.getsize(path))])
    await send({"type": "http.response.pathsend", "path": path})


async def zerocopy(scope, receive, send, q):
    """http.response.zerocopysend of this file, ?mode=: whole (no offset
    or count), window (100 bytes from 100), past-end (a count past the
    end), or mixed (a body, a region at an offset, regions from the
    file's position, given a file object and a bare descriptor, then a
    body naming the position the file was left at). The file closes as
    soon as the last send() returns: the server sends from its own
    descriptor."""
    assert "http.response.zerocopysend" in scope["extensions"]
    mode = q["mode"]
    region = {"type": "http.response.zerocopysend"}
    with open(__file__, "rb") as f:
        if mode == "whole":
            await start(send, 200, [(b"content-type", b"text/x-python")])
            await send({**region, "file": f})
        elif mode == "window":
            await start(send)
            await send({**region, "file": f, "offset": 100, "count": 100})
        elif mode == "past-end":
            await start(send)
            await send({**region, "file": f, "offset": os.fstat(f.fileno()).st_size - 4, "count": 1000})
        elif mode == "mixed":
            await start(send)
            await send({"type": "http.response.body", "body": b"<", "more_body": True})
            await send({**region, "file": f, "offset": 10, "count": 5, "more_body": True})
            f.seek(20)
            await send({**region, "file": f, "count": 7, "more_body": True})
            await send({**region, "file": f.fileno(), "count": 3, "more_body": True})
            await send({"type": "http.response.body", "body": b">%d" % f.tell()})


async def send_then_block(scope, receive, send, q):
    """Sends a first piece, then blocks the loop (a blocking wait, no
    await) until the file ?path= exists: the piece must reach the client
    meanwhile, as a transport would have written it."""
    await start(send)
    await send({"type": "http.response.body", "body": b"first;", "more_body": True})
    while not os.path.exists(q["path"]):
        time.sleep(0.001)
    await send({"type": "http.response.body", "body": b"last"})


async def trailers(scope, receive, send, q):
    await start(send, 200, [(b"content-type", b"text/plain")], trailers=True)
    await send({"type": "http.response.body", "body": b"body before trailers"})
    await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")]})


async def sleep(scope, receive, send, q):
    await asyncio.sleep(float(q["s"]))
    await start(send)
    await send({"type": "http.response.body", "body": b"slept"})


async def scope_echo(scope, receive, send, q):
    import json

    def plain(v):
        if isinstance(v, bytes):
            return v.decode("latin-1")
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    await start(send, 200, [(b"content-type", b"application/json")])
    await send({"type": "http.response.body", "body": json.dumps(plain(scope)).encode()})


_arrived = 0
_all_here = None


async def gather(scope, receive, send, q):
    """Answers once ?n=N requests are in here at once: a server that ran
    them one at a time would never answer."""
    global _arrived, _all_here
    if _all_here is None:
        _all_here = asyncio.Event()
    _arrived += 1
    if _arrived >= int(q["n"]):
        _all_here.set()
    await _all_here.wait()
    await start(send)
    await send({"type": "http.response.body", "body": b"together"})


async def refuse(scope, receive, send, q):
    """Refuses the request without reading its body, as an auth check of
    an upload route does."""
    await start(send, 401, [(b"content-length", b"2")])
    await send({"type": "http.response.body", "body": b"no"})


async def duplex(scope, receive, send, q):
    """Echoes each piece of the request body as it arrives, "got:PIECE;",
    while the client still sends (a full-duplex exchange)."""
    await start(send, 200, [(b"content-type", b"text/plain")])
    while True:
        msg = await receive()
        if msg.get("body"):
            await send({"type": "http.response.body", "body": b"got:" + msg["body"] + b";", "more_body": True})
        if not msg.get("more_body"):
            break
    await send({"type": "http.response.body", "body": b"end"})


ROUTES = {"/refuse": refuse, "/duplex": duplex, "/gather": gather, "/body-first": body_first, "/raise-midway": raise_midway, "/send-after-done": send_after_done,
          "/pathsend": pathsend, "/zerocopy": zerocopy, "/send-then-block": send_then_block, "/trailers": trailers, "/sleep": sleep, "/scope": scope_echo}
