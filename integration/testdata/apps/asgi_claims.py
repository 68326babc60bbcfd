"""A plain ASGI app for what docs/asgi.md claims of the ASGI worker's
limits (integration/asgi_limits_test.go). A control socket of its own,
$ASGI_MARKS/control.sock (started with the lifespan), lets the test
ask and steer it while every request slot is taken:
  "stats"   -> "<requests in the app now> <most at once>"
  "release" -> lets every /slot request answer
  "drain"   -> lets /hoard WebSockets receive
/slot waits for "release"; the websocket /hoard accepts and receives
nothing until "drain", then counts the binary messages up to a text
"end" and sends "<messages> <bytes>"; the websocket /raise raises
before accepting."""
import asyncio
import os

inflight = 0
most = 0
release = None
drain = None


async def control(reader, writer):
    global release
    while line := await reader.readline():
        cmd = line.strip()
        if cmd == b"release":
            release.set()
            writer.write(b"ok\n")
        elif cmd == b"drain":
            drain.set()
            writer.write(b"ok\n")
        else:
            writer.write(b"%d %d\n" % (inflight, most))
        await writer.drain()
    writer.close()


async def lifespan(receive, send):
    global release, drain
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            release, drain = asyncio.Event(), asyncio.Event()
            path = os.path.join(os.environ["ASGI_MARKS"], "control.sock")
            app.server = await asyncio.start_unix_server(control, path=path)
            await send({"type": "lifespan.startup.complete"})
        else:
            app.server.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def hoard(receive, send):
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    await drain.wait()
    count = size = 0
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") == "end":
            break
        count += 1
        size += len(message.get("bytes") or b"")
    await send({"type": "websocket.send", "text": "%d %d" % (count, size)})
    await send({"type": "websocket.close", "code": 1000})


async def app(scope, receive, send):
    global inflight, most
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    if scope["type"] == "websocket":
        if scope["path"] == "/raise":
            await receive()
            raise RuntimeError("the app raised before websocket.accept")
        return await hoard(receive, send)
    inflight += 1
    most = max(most, inflight)
    try:
        if scope["path"] == "/slot":
            await release.wait()
    finally:
        inflight -= 1
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"answered"})
