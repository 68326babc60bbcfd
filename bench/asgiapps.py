"""ASGI applications for `make bench` (issue #25): one module-level
callable per ASGI workload, served as ``asgiapps:<name>`` by gowsgi
(``-k asgi``), Uvicorn and Hypercorn alike, with ``bench/`` on the path.

    hello        200 text/plain b"Hello, World!" (13 bytes), Content-Length
    fastapi_app  tiny FastAPI app, GET /json -> {"message":"Hello, World!"}
    stream       64 x 16 KiB sent as http.response.body with more_body,
                 no Content-Length (the server frames it: chunked)
    ws_echo      WebSocket: accepts, then sends every message back as it
                 came (text or bytes) until the client goes; a plain HTTP
                 GET of the same path gets hello (the harness's readiness
                 check)

Each answers the lifespan scope (startup/shutdown complete) so no server
logs a lifespan failure. FastAPI is imported by the first event that
reaches ``fastapi_app`` (in each worker), as apps.py does for Flask.
"""

HELLO_BODY = b"Hello, World!"
HELLO_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")],
}
HELLO_BODY_EVENT = {"type": "http.response.body", "body": HELLO_BODY}


async def _lifespan(receive, send):
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif msg["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def hello(scope, receive, send):
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    await send(HELLO_START)
    await send(HELLO_BODY_EVENT)


STREAM_CHUNK = b"x" * 16384
STREAM_CHUNKS = 64
STREAM_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/octet-stream")],
}


async def stream(scope, receive, send):
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    await send(STREAM_START)
    for _ in range(STREAM_CHUNKS - 1):
        await send({"type": "http.response.body", "body": STREAM_CHUNK, "more_body": True})
    await send({"type": "http.response.body", "body": STREAM_CHUNK})


async def ws_echo(scope, receive, send):
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    if scope["type"] == "http":
        return await hello(scope, receive, send)
    msg = await receive()  # websocket.connect
    if msg["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    while True:
        msg = await receive()
        if msg["type"] != "websocket.receive":
            return  # websocket.disconnect
        if msg.get("text") is not None:
            await send({"type": "websocket.send", "text": msg["text"]})
        else:
            await send({"type": "websocket.send", "bytes": msg["bytes"]})


def _make_fastapi_app():
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/json")
    async def json_route():
        return {"message": "Hello, World!"}

    return app


class _LazyFastAPI:
    """Builds the FastAPI app on the first event (lifespan or request),
    so the other workloads neither import FastAPI nor pay its memory."""

    def __init__(self):
        self.app = None

    async def __call__(self, scope, receive, send):
        if self.app is None:
            self.app = _make_fastapi_app()
        await self.app(scope, receive, send)


fastapi_app = _LazyFastAPI()
