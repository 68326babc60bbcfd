"""A WebSocket app that refuses with a denial response only when the
server advertises the extension in the scope, as Quart and Starlette
check before they send one (asgi_ws_denial_test.go); without it, it
closes, which the client sees as a bare 403."""


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": 401,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "websocket.http.response.body", "body": b"login first\n"})
    else:
        await send({"type": "websocket.close"})
