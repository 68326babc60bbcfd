"""An ASGI app that queues a whole 1 MiB response at once: 64 sends of
16 KiB, all within the worker's response buffer (TestASGIResponsesQueued
WholeLeaveNoMemoryBehind)."""

CHUNK = b"x" * 16384


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")]})
    for i in range(64):
        await send({"type": "http.response.body", "body": CHUNK, "more_body": i < 63})
