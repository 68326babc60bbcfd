"""The lifespan protocol answered as an app with nothing to set up
answers it, for the ASGI test apps that import it."""


async def lifespan(receive, send):
    """Completes startup and shutdown; returns after shutdown."""
    while True:
        msg = await receive()
        await send({"type": msg["type"] + ".complete"})
        if msg["type"] == "lifespan.shutdown":
            return
