"""103 Early Hints, as Gunicorn 25 lets an app send them: WSGI's
environ["wsgi.early_hints"](headers) and ASGI's
http.response.informational. ?wait=PATH answers only once PATH exists,
so a test sees the hints arrive while the app still works; /bad sends
hints with a CR LF in a value."""
import asyncio
import os
import time
import urllib.parse

from asgi_lifespan_ok import lifespan

HINTS = [("Link", "</style.css>; rel=preload; as=style"), ("Link", "</app.js>; rel=preload; as=script")]
BAD = [("Link", "</a.css>\r\nX-Injected: 1")]


def _wait_for(path):
    deadline = time.monotonic() + 20
    while path and not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.005)


def app(environ, start_response):
    q = dict(urllib.parse.parse_qsl(environ["QUERY_STRING"]))
    environ["wsgi.early_hints"](BAD if environ["PATH_INFO"] == "/bad" else HINTS)
    _wait_for(q.get("wait"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"done"]


async def asgi(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    q = dict(urllib.parse.parse_qsl(scope["query_string"].decode()))
    hints = BAD if scope["path"] == "/bad" else HINTS
    await send({"type": "http.response.informational", "status": 103,
                "headers": [(k.encode(), v.encode()) for k, v in hints]})
    path = q.get("wait")
    deadline = time.monotonic() + 20
    while path and not os.path.exists(path) and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"done"})
