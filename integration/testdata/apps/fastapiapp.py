"""A FastAPI app (Debian's python3-fastapi) for the ASGI integration tests."""
import asyncio
import hashlib
import os
from contextlib import asynccontextmanager

import anyio
from fastapi import BackgroundTasks, FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel


@asynccontextmanager
async def lifespan(app):
    # The state reaches every request (scope["state"], request.state).
    yield {"greeting": "hello from lifespan", "pid": os.getpid()}
    # shutdown: leave a mark the test can see
    mark("shutdown", "shutdown %d\n" % os.getpid())


def mark(name, text):
    """Appends text to the file name in $ASGI_MARKS, for the test to see."""
    d = os.environ.get("ASGI_MARKS")
    if d:
        with open(os.path.join(d, name), "a") as f:
            f.write(text)


app = FastAPI()
# FastAPI 0.92 (Debian bookworm) has no lifespan argument yet; its router
# (Starlette 0.26) has the lifespan context with state.
app.router.lifespan_context = lifespan

class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get("/hello/{name}")
async def hello(name: str, times: int = 1):
    return {"message": " ".join(["hello " + name] * times)}


@app.post("/items/{item_id}")
async def create_item(item_id: int, item: Item, request: Request):
    return {"id": item_id, "item": item.dict(), "greeting": request.state.greeting}


@app.get("/state")
async def state(request: Request):
    return {"greeting": request.state.greeting, "pid": request.state.pid}


@app.get("/stream")
async def stream(n: int = 5, size: int = 10):
    async def gen():
        for i in range(n):
            yield (b"%d:" % i) + b"x" * size + b"\n"
            await asyncio.sleep(0)
    return StreamingResponse(gen(), media_type="text/plain")


@app.post("/upload")
async def upload(request: Request):
    h = hashlib.sha256()
    n = chunks = 0
    async for chunk in request.stream():
        h.update(chunk)
        n += len(chunk)
        chunks += 1
    return {"size": n, "sha256": h.hexdigest(), "chunks": chunks}


@app.get("/slow-stream")
async def slow_stream(request: Request):
    """Streams until the client goes; records that it noticed."""
    async def gen():
        try:
            i = 0
            while True:
                yield b"tick %d\n" % i
                i += 1
                await asyncio.sleep(0.01)
        finally:
            mark("disconnected", "disconnected\n")
    return StreamingResponse(gen(), media_type="text/plain")


@app.get("/background")
async def background(tasks: BackgroundTasks, mark: str):
    def write():
        with open(mark, "a") as f:
            f.write("background ran\n")
    tasks.add_task(write)
    return PlainTextResponse("scheduled")


@app.get("/background-until")
async def background_until(tasks: BackgroundTasks, go: str):
    """A background task that runs until the file go exists: it marks
    "started", then "finished" (in $ASGI_MARKS/shutdown, where the
    lifespan shutdown marks too, so the order shows)."""
    async def until():
        mark("shutdown", "background started\n")
        while not os.path.exists(go):
            await asyncio.sleep(0.01)
        mark("shutdown", "background finished\n")
    tasks.add_task(until)
    return PlainTextResponse("scheduled")


@app.get("/raise")
async def boom():
    raise ValueError("the handler failed")


@app.get("/wait")
async def wait(ms: int):
    await asyncio.sleep(ms / 1000)
    return PlainTextResponse("waited %d" % ms)


@app.get("/file")
async def file():
    return FileResponse(__file__, media_type="text/x-python")


@app.get("/block-loop")
async def block_loop():
    """CPU-bound work on the loop itself: what --timeout catches."""
    while True:
        pass


@app.get("/block-loop-in-task-group")
async def block_loop_in_task_group():
    """The same work in a task of the handler's task group, as Starlette's
    BaseHTTPMiddleware (@app.middleware("http")) runs the endpoint."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(spin_in_task)


async def spin_in_task():
    while True:
        pass


chatters = set()


@app.websocket("/chat/{name}")
async def chat(ws: WebSocket, name: str):
    """Every text a client sends goes to every client connected."""
    await ws.accept()
    chatters.add(ws)
    try:
        while True:
            text = await ws.receive_text()
            for c in list(chatters):
                await c.send_text("%s: %s" % (name, text))
    except WebSocketDisconnect as e:
        mark("ws-closed", "%s %d\n" % (name, e.code))
    finally:
        chatters.discard(ws)


@app.websocket("/ticks")
async def ticks(ws: WebSocket):
    """Counts to the client until the server ends the socket; marks the
    last number whose send returned ($ASGI_MARKS/ticks)."""
    await ws.accept()
    sent = -1
    try:
        while True:
            await ws.send_text(str(sent + 1))
            sent += 1
            await asyncio.sleep(0)
    except Exception:
        mark("ticks", "%d\n" % sent)


@app.websocket("/reverse")
async def reverse(ws: WebSocket):
    await ws.accept()
    while True:
        data = await ws.receive_bytes()
        await ws.send_bytes(data[::-1])


@app.websocket("/ws-block-loop")
async def ws_block_loop(ws: WebSocket):
    """A session's CPU-bound work on the loop, once the client has its
    101 and has sent a message: what --timeout catches."""
    await ws.accept()
    await ws.receive_text()
    while True:
        pass


@app.websocket("/deny")
async def deny(ws: WebSocket):
    await ws.close(code=1008)  # before accept: the handshake gets 403


flood_sent = 0


@app.websocket("/flood")
async def flood(ws: WebSocket):
    """Sends 64 KiB messages as fast as it may, counting them."""
    global flood_sent
    await ws.accept()
    chunk = b"f" * 65536
    while True:
        await ws.send_bytes(chunk)
        flood_sent += 1


@app.get("/flood-sent")
async def flood_count():
    return {"sent": flood_sent}
