"""A plain ASGI app (no framework) for the WebSocket-over-uwsgi tests.

A WebSocket is accepted (with the client's first subprotocol), told its
scope as JSON, then echoed: text as text, bytes as bytes. The text
"close CODE REASON" makes the app close with that code. /deny closes
before accept (a 403); /http-deny answers with websocket.http.response
(401). How each socket ended goes to $ASGI_MARKS/ws-closed as
"QUERY CODE" lines. HTTP requests get "http".
"""
import json
import os


def mark(line):
    with open(os.path.join(os.environ["ASGI_MARKS"], "ws-closed"), "a") as f:
        f.write(line + "\n")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            await send({"type": msg["type"] + ".complete"})
            if msg["type"] == "lifespan.shutdown":
                return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"http"})
        return
    name = scope["query_string"].decode()
    assert (await receive())["type"] == "websocket.connect"
    if scope["path"] == "/deny":
        await send({"type": "websocket.close", "code": 1008})
        return
    if scope["path"] == "/http-deny":
        await send({"type": "websocket.http.response.start", "status": 401,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "websocket.http.response.body", "body": b"no entry\n"})
        return
    subprotocols = scope.get("subprotocols") or [None]
    await send({"type": "websocket.accept", "subprotocol": subprotocols[0]})
    view = {k: plain(v) for k, v in scope.items() if k not in ("state", "extensions", "asgi")}
    await send({"type": "websocket.send", "text": json.dumps(view)})
    while True:
        msg = await receive()
        if msg["type"] == "websocket.disconnect":
            mark("%s %d" % (name, msg["code"]))
            return
        text = msg.get("text")
        if text is not None and text.startswith("close "):
            _, code, reason = text.split(" ", 2)
            await send({"type": "websocket.close", "code": int(code), "reason": reason})
            mark("%s closed %s" % (name, code))
            return
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": msg["bytes"]})


def plain(v):
    if isinstance(v, bytes):
        return v.decode("latin-1")
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v
