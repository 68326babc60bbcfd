"""A Starlette event stream (Debian's python3-starlette) whose generator
never ends and, after its first event, sends nothing until a next event
that never comes (integration/asgi_disconnect_test.go): only
StreamingResponse's listen_for_disconnect, awaiting receive(), can learn
that the client went, and it cancels the generator. The generator
records in $ASGI_MARKS/events that it started and that it stopped."""
import asyncio
import os

from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route


def mark(text):
    with open(os.path.join(os.environ["ASGI_MARKS"], "events"), "a") as f:
        f.write(text + "\n")


async def events(request):
    tag = request.query_params.get("tag", "")

    async def gen():
        never = asyncio.Event()
        try:
            n = 0
            while True:
                yield b"data: event %d\n\n" % n
                n += 1
                await never.wait()
        finally:
            mark(tag + " stopped after %d" % n)

    mark(tag + " started")
    return StreamingResponse(gen(), media_type="text/event-stream")


app = Starlette(routes=[Route("/events", events)])
