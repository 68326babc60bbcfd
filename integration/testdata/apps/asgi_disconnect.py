"""A plain ASGI app that waits for its client (integration/
asgi_disconnect_test.go): it records in $ASGI_MARKS/got what receive()
returned once the body was read, so the test sees http.disconnect
arrive while the app sends nothing."""
import asyncio
import os

released = asyncio.Event()


def mark(text):
    with open(os.path.join(os.environ["ASGI_MARKS"], "got"), "a") as f:
        f.write(text + "\n")


async def respond(send, body):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    path, tag = scope["path"], scope["query_string"].decode()
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    if path == "/wait":
        # A long poll: nothing to send until the client goes.
        message = await receive()
        mark("%s %s after %d bytes" % (tag, message["type"], size))
    elif path == "/started":
        # The head and part of the body are out; then the app waits.
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"partial\n", "more_body": True})
        message = await receive()
        mark("%s %s" % (tag, message["type"]))
        try:
            await send({"type": "http.response.body", "body": b"too late"})
        except OSError as e:
            mark("%s send raised %s" % (tag, type(e).__name__))
    elif path == "/hold":
        # Waits in receive() until /release; answers what receive() gave.
        got = asyncio.ensure_future(receive())
        rel = asyncio.ensure_future(released.wait())
        await asyncio.wait({got, rel}, return_when=asyncio.FIRST_COMPLETED)
        what = got.result()["type"] if got.done() else "nothing"
        got.cancel()
        rel.cancel()
        released.clear()
        await respond(send, b"held; receive gave " + what.encode())
    elif path == "/release":
        released.set()
        await respond(send, b"released")
    else:
        await respond(send, b"hello")
