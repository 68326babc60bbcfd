"""A plain ASGI app that announces its response trailers in a Trailer
header field (RFC 9110 §6.6.2; integration/asgi_trailer_field_test.go).
/plain sends the field without asking for trailers."""


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            await send({"type": msg["type"] + ".complete"})
            if msg["type"] == "lifespan.shutdown":
                return
    trailers = scope["path"] != "/plain"
    await send({"type": "http.response.start", "status": 200, "trailers": trailers,
                "headers": [(b"content-type", b"text/plain"), (b"trailer", b"x-checksum, x-count")]})
    await send({"type": "http.response.body", "body": b"data"})
    if trailers:
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc"), (b"x-count", b"1")]})
