"""The retire app (retire.py) as a plain ASGI app, for the ASGI worker's
retirement tests: POST bodies are appended, one per line, to the file
named by $RETIRE_LOG and echoed; anything else answers "hello"."""
import os

_log = os.open(os.environ.get("RETIRE_LOG", os.devnull), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b"hello"
    if scope["method"] == "POST":
        parts = []
        while True:
            msg = await receive()
            parts.append(msg.get("body", b""))
            if not msg.get("more_body"):
                break
        body = b"".join(parts)
        os.write(_log, body + b"\n")  # one write(2) with O_APPEND: lines never interleave
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})
