"""An ASGI app whose lifespan startup fails, and one whose startup
raises: the worker must not serve."""


async def app(scope, receive, send):
    assert scope["type"] == "lifespan"
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "cannot reach the database"})


async def raising(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        raise RuntimeError("startup exploded")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"served anyway"})


async def failed_then_raises(scope, receive, send):
    # Starlette's router: startup.failed with the traceback, then the
    # exception raised again.
    assert scope["type"] == "lifespan"
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "Traceback: cannot open the pool"})
    raise RuntimeError("cannot open the pool")
