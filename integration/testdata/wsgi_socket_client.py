"""WebSocket client (Debian's python3-websockets) for the
environ["gunicorn.socket"] tests: python3 wsgi_socket_client.py
echo|hold|linger SECONDS ws://HOST:PORT; prints JSON results."""
import asyncio
import json
import sys

import websockets


async def echo(base):
    out = {}
    async with websockets.connect(base + "/ws", compression=None, max_size=None) as ws:
        await ws.send("hello")
        out["echo"] = await ws.recv()
        await ws.send(b"\x01\x02\x03")
        out["reversed"] = list(await ws.recv())
        big = "ünï" * 100000
        await ws.send(big)
        out["big"] = (await ws.recv()) == "echo: " + big
        await (await ws.ping(b"p"))
        out["pong"] = True
        await ws.send("bye")
        try:
            await ws.recv()
        except websockets.exceptions.ConnectionClosed as e:
            out["code"] = e.code
    print(json.dumps(out), flush=True)


async def hold(base):
    """Connects, says so, and reports the close code the server ends with."""
    async with websockets.connect(base + "/ws") as ws:
        await ws.send("here")
        await ws.recv()
        print("connected", flush=True)
        try:
            await ws.recv()
        except websockets.exceptions.ConnectionClosed as e:
            print(json.dumps({"code": e.code}), flush=True)


async def linger(base, seconds):
    """Keeps a session open for seconds between two messages."""
    async with websockets.connect(base + "/ws") as ws:
        await ws.send("one")
        first = await ws.recv()
        await asyncio.sleep(seconds)
        await ws.send("two")
        print(json.dumps({"echoes": [first, await ws.recv()]}), flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "linger":
        asyncio.run(linger(sys.argv[3], float(sys.argv[2])))
    else:
        asyncio.run({"echo": echo, "hold": hold}[mode](sys.argv[2]))
