"""A plain ASGI app (no framework) sending response trailers
(http.response.trailers, ASGI HTTP spec 2.4): runs under any CPython."""
import os


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            await send({"type": msg["type"] + ".complete"})
            if msg["type"] == "lifespan.shutdown":
                return
    # The server advertises the extension; an app asks for trailers only then.
    assert "http.response.trailers" in scope["extensions"], scope["extensions"]
    headers = [(b"content-type", b"text/plain")]
    if scope["path"] == "/file":  # sendfile, then the trailers
        await send({"type": "http.response.start", "status": 200, "headers": headers, "trailers": True})
        await send({"type": "http.response.pathsend", "path": os.path.abspath(__file__)})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"file")]})
        return
    if scope["path"] == "/length":
        headers.append((b"content-length", b"9"))
    await send({"type": "http.response.start", "status": 200, "headers": headers, "trailers": True})
    await send({"type": "http.response.body", "body": b"part one;", "more_body": scope["path"] != "/length"})
    if scope["path"] != "/length":
        await send({"type": "http.response.body", "body": b"part two"})
    if scope["path"] == "/bad":
        await send({"type": "http.response.trailers", "headers": [(b"content-length", b"5")]})
        return
    await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")],
                "more_trailers": True})
    await send({"type": "http.response.trailers", "headers": [(b"x-count", b"2"), (b"x-count", b"3")]})
