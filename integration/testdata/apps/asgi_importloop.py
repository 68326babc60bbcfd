"""An ASGI app whose module calls asyncio.get_event_loop() at import,
as code written for Uvicorn may (a client bound to the loop,
run_in_executor): / says whether that loop is the one serving, and runs
an executor call on it."""
import asyncio

from asgi_lifespan_ok import lifespan

IMPORT_LOOP = asyncio.get_event_loop()


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    same = IMPORT_LOOP is asyncio.get_running_loop()
    total = await IMPORT_LOOP.run_in_executor(None, sum, [1, 2])
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"same loop %r, executor %d" % (same, total)})
