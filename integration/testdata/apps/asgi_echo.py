"""A plain ASGI app (no framework) that answers any HTTP request with its
scope and its request body as JSON (bytes as latin-1 strings): the
uwsgi-protocol tests read what the ASGI worker built from the packet."""
import json


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            await send({"type": msg["type"] + ".complete"})
            if msg["type"] == "lifespan.shutdown":
                return
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    out = {k: plain(v) for k, v in scope.items() if k not in ("state", "extensions", "asgi")}
    out["body"] = body.decode("latin-1")
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(out).encode()})


def plain(v):
    if isinstance(v, bytes):
        return v.decode("latin-1")
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v
