"""WebSocket client for the ASGI tests (Debian's python3-websockets):
python3 ws_client.py chat|stop|ticks|too-big ws://HOST:PORT; prints JSON results."""
import asyncio
import json
import sys

import websockets


async def chat(base):
    out = {}
    async with websockets.connect(base + "/chat/alice") as a, websockets.connect(base + "/chat/bob") as b:
        out["deflate"] = a.response_headers.get("Sec-WebSocket-Extensions", "")
        await a.send("hello")
        out["alice saw"] = [await a.recv()]
        out["bob saw"] = [await b.recv()]
        await b.send("hi alice, ünïcode")
        out["alice saw"].append(await a.recv())
        out["bob saw"].append(await b.recv())
    async with websockets.connect(base + "/reverse", compression=None) as r:
        await r.send(b"\x01\x02\x03")
        out["reversed"] = list(await r.recv())
        big = bytes(range(256)) * 1000
        await r.send(big)
        out["big reversed"] = (await r.recv()) == big[::-1]
    try:
        async with websockets.connect(base + "/deny"):
            pass
    except websockets.exceptions.InvalidStatusCode as e:
        out["deny"] = e.status_code
    print(json.dumps(out), flush=True)


async def stop(base):
    """Connects, says so, and reports the close code the server ends with."""
    async with websockets.connect(base + "/chat/carol") as c:
        await c.send("here")
        await c.recv()
        print("connected", flush=True)
        try:
            await c.recv()
        except websockets.exceptions.ConnectionClosed as e:
            print(json.dumps({"code": e.code}), flush=True)


async def ticks(base):
    """Reads the server's count (/ticks) until the server closes; says
    "connected" at 50, then reports the close code and the last number."""
    last = None
    async with websockets.connect(base + "/ticks") as c:
        try:
            while True:
                last = int(await c.recv())
                if last == 50:
                    print("connected", flush=True)
        except websockets.exceptions.ConnectionClosed as e:
            print(json.dumps({"code": e.code, "last": last}), flush=True)


async def too_big(base):
    """Sends a message over the server's --ws-max-size; reports the close."""
    async with websockets.connect(base + "/reverse", compression=None) as r:
        await r.send(b"x" * 2000)
        try:
            await r.recv()
        except websockets.exceptions.ConnectionClosed as e:
            print(json.dumps({"code": e.code}), flush=True)


asyncio.run({"chat": chat, "stop": stop, "ticks": ticks, "too-big": too_big}[sys.argv[1]](sys.argv[2]))
