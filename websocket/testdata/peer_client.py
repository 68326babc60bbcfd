"""Client half of websocket/peer_test.go: Debian's python3-websockets
against the Go test server. Prints "ok <case>" per case; any failed
assertion exits non-zero with its traceback."""

import asyncio
import sys
import time

import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Opcode

BASE = sys.argv[1]
START = time.monotonic()


def ok(case):
    print("ok", case, flush=True)
    print(f"  {time.monotonic() - START:.2f}s", flush=True)


async def echo(ws, messages):
    for m in messages:
        await ws.send(m)
        got = await asyncio.wait_for(ws.recv(), 10)
        assert got == m, (type(got), len(got), type(m), len(m))


async def expect_closed(ws, code):
    try:
        await asyncio.wait_for(ws.recv(), 10)
    except websockets.ConnectionClosed:
        pass
    else:
        raise AssertionError("connection not closed")
    assert ws.close_code == code, (ws.close_code, ws.close_reason)


async def main():
    big = "gowsgi speaks WebSocket " * 5000
    messages = ["hello", "κόσμε 😀", big, b"\x00\xff" * 1000, b"", "", big[:200]]

    async with websockets.connect(BASE + "/echo") as ws:
        assert ws.response_headers["Sec-WebSocket-Extensions"] == "permessage-deflate", ws.response_headers
        assert ws.response_headers["X-Server"] == "gowsgi-test"
        await echo(ws, messages)
        ok("echo compressed")
        await ws.send(["frag", "mented ", "text ☃"])
        assert await ws.recv() == "fragmented text ☃"
        await ws.send([b"a", b"b" * 70000, b"c"])
        assert await ws.recv() == b"a" + b"b" * 70000 + b"c"
        ok("fragmented")
        pong = await ws.ping(b"probe")
        await asyncio.wait_for(pong, 10)
        ok("ping")
        await ws.close(code=4000, reason="done")
        assert ws.close_code == 4000 and ws.close_reason == "done", (ws.close_code, ws.close_reason)
        ok("close 4000")

    async with websockets.connect(BASE + "/plain") as ws:
        assert "Sec-WebSocket-Extensions" not in ws.response_headers
        await echo(ws, messages)
        ok("plain")

    both = ClientPerMessageDeflateFactory(server_no_context_takeover=True, client_no_context_takeover=True)
    async with websockets.connect(BASE + "/forced", extensions=[both], compression=None) as ws:
        ext = ws.response_headers["Sec-WebSocket-Extensions"]
        assert ext == "permessage-deflate; server_no_context_takeover; client_no_context_takeover", ext
        await echo(ws, messages + messages)
        ok("no context takeover")

    narrow = ClientPerMessageDeflateFactory(server_max_window_bits=10)
    async with websockets.connect(BASE + "/echo", extensions=[narrow], compression=None) as ws:
        assert "Sec-WebSocket-Extensions" not in ws.response_headers
        await echo(ws, messages)
        ok("server window 10 declined")

    async with websockets.connect(BASE + "/echo") as ws:
        await ws.send("close-me")
        await expect_closed(ws, 4001)
        assert ws.close_reason == "server says bye"
        ok("server close 4001")

    async with websockets.connect(BASE + "/small") as ws:
        await echo(ws, ["x" * 1000])
        await ws.send("x" * 1001)
        await expect_closed(ws, 1009)
    async with websockets.connect(BASE + "/small", compression=None) as ws:
        await ws.send(b"x" * 100000)  # refused from its header, the payload unread
        await expect_closed(ws, 1009)
        ok("too big 1009")

    async with websockets.connect(BASE + "/echo", subprotocols=["superchat", "chat"]) as ws:
        assert ws.subprotocol == "chat", ws.subprotocol
        ok("subprotocol")

    host, port = BASE[len("ws://"):].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
    head = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert head.startswith(b"HTTP/1.1 426 ") and b"\r\nSec-WebSocket-Version: 13\r\n" in head, head
    ok("version 426")

    async with websockets.connect(BASE + "/echo", compression=None) as ws:
        # write_frame sends a raw frame (masked by the client), here text
        # that is not UTF-8.
        await ws.write_frame(True, Opcode.TEXT, b"ok \xff")
        await expect_closed(ws, 1007)
        ok("invalid utf-8 1007")

    async with websockets.connect(BASE + "/echo") as ws:
        await ws.write_frame(True, Opcode.CLOSE, b"")  # a Close frame without a code
        await expect_closed(ws, 1005)
        ok("close without code")

    async with websockets.connect(BASE + "/echo", compression=None) as ws:
        await ws.write_frame(False, Opcode.TEXT, b"inter")
        await ws.write_frame(True, Opcode.PING, b"mid")
        await ws.write_frame(True, Opcode.CONT, b"leaved")
        assert await asyncio.wait_for(ws.recv(), 10) == "interleaved"
        ok("interleaved ping")


asyncio.run(main())
