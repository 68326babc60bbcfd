"""WebSocket client for the ASGI-over-uwsgi tests (Debian's
python3-websockets), run against nginx in front of gowsgi
--protocol uwsgi and testdata/apps/asgi_ws_echo.py:
python3 ws_uwsgi_client.py echo|hold ws://HOST:PORT; prints JSON."""
import asyncio
import json
import sys

import websockets


async def echo(base):
    out = {}
    async with websockets.connect(base + "/echo?name=a", subprotocols=["chat", "other"]) as ws:
        out["scope"] = json.loads(await ws.recv())
        out["offered"] = out["scope"]["subprotocols"]
        out["subprotocol"] = ws.subprotocol
        out["deflate"] = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        await ws.send("héllo ✓")
        out["text"] = await ws.recv()
        await ws.send(bytes(range(256)))
        out["binary"] = (await ws.recv()) == bytes(range(256))
        big = bytes(range(251)) * 800  # 200,800 bytes, under --ws-max-size
        await ws.send(big)
        out["big"] = (await ws.recv()) == big
        await ws.send(["frag", "mented"])  # one message in two frames
        out["fragmented"] = await ws.recv()
        await asyncio.wait_for(await ws.ping(b"are you there"), 20)
        out["pong"] = True
        await ws.send("close 4001 bye")
        try:
            await ws.recv()
        except websockets.exceptions.ConnectionClosed as e:
            out["app close"] = [e.code, e.reason]
    # The client closes: the server answers its Close.
    ws = await websockets.connect(base + "/echo?name=b")
    await ws.recv()
    await ws.close(code=1000, reason="done")
    out["client close"] = ws.close_code
    async with websockets.connect(base + "/echo?name=c", compression=None) as ws:
        await ws.recv()
        await ws.send(b"x" * 300000)  # over --ws-max-size
        try:
            await ws.recv()
        except websockets.exceptions.ConnectionClosed as e:
            out["too big"] = e.code
    for path in ("/deny", "/http-deny"):
        try:
            async with websockets.connect(base + path):
                pass
        except websockets.exceptions.InvalidStatusCode as e:
            out[path] = e.status_code
    print(json.dumps(out), flush=True)


async def hold(base):
    """Connects, says so, and reports the close code the server ends with."""
    async with websockets.connect(base + "/echo?name=hold") as ws:
        await ws.recv()
        print("connected", flush=True)
        try:
            await ws.recv()
        except websockets.exceptions.ConnectionClosed as e:
            print(json.dumps({"code": e.code}), flush=True)


asyncio.run({"echo": echo, "hold": hold}[sys.argv[1]](sys.argv[2]))
