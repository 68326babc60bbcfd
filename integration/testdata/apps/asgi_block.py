"""A plain ASGI app whose WebSocket can block its worker's event loop.

HTTP requests are answered with the worker's pid, in the body and in
an X-Worker header (for BenchmarkBalance). A WebSocket is sent
the worker's pid first; then its message "block PATH" makes the app
answer "blocked" and block the loop (sleeping without awaiting, as a
CPU-bound handler or a blocking call does) until PATH exists, then
answer "unblocked". Any other message is echoed.
"""
import os
import time

PID = str(os.getpid())


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        raise RuntimeError("no lifespan here")  # --lifespan auto goes on without
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"x-worker", PID.encode())]})
        await send({"type": "http.response.body", "body": PID.encode()})
        return
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": PID})
    while True:
        msg = await receive()
        if msg["type"] == "websocket.disconnect":
            return
        text = msg.get("text") or ""
        if text.startswith("block "):
            await send({"type": "websocket.send", "text": "blocked"})
            while not os.path.exists(text[len("block "):]):
                time.sleep(0.005)
            await send({"type": "websocket.send", "text": "unblocked"})
        else:
            await send({"type": "websocket.send", "text": text})


def make():
    """A factory of the app, for Uvicorn's --factory."""
    return app
