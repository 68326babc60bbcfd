"""A plain ASGI app that refuses every WebSocket and awaits receive()
while it refuses. /during and /after deny with a websocket.http.response
(the ASGI WebSocket "Denial Response" extension: a 403 with a body sent
in two parts); /during starts a receive() between
websocket.http.response.start and the body, /after awaits receive() once
the body is sent. /close sends websocket.close before accept (a 403),
then awaits receive(). What receive() returned goes to $ASGI_MARKS/got as
"PATH TYPE CODE" lines. HTTP requests get the worker's pid.
"""
import asyncio
import os


def mark(line):
    with open(os.path.join(os.environ["ASGI_MARKS"], "got"), "a") as f:
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
        await send({"type": "http.response.body", "body": str(os.getpid()).encode()})
        return
    assert (await receive())["type"] == "websocket.connect"
    path = scope["path"]
    waiting = None
    if path == "/close":
        await send({"type": "websocket.close", "code": 1008})
    else:
        await send({"type": "websocket.http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain"), (b"x-denied-by", b"app")]})
        if path == "/during":
            # The receive() runs up to its wait, so the server hears that
            # the app waits before it gets the body.
            waiting = asyncio.ensure_future(receive())
            await asyncio.sleep(0)
        await send({"type": "websocket.http.response.body", "body": b"not ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"you\n"})
    msg = await (waiting if waiting is not None else receive())
    mark("%s %s %s" % (path, msg["type"], msg.get("code")))
