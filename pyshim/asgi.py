# _gowsgi_asgi: the Python side of the ASGI runtime (asgi.c, asgi.go).
#
# One asyncio event loop runs on one dedicated OS thread of the worker.
# Go never calls into it directly: it queues events in C (gw_aq_post) and
# wakes the loop through an eventfd registered with loop.add_reader, so an
# idle loop sleeps in epoll without the GIL. What the app sends goes to Go
# through _c.out, which copies it and never blocks; when a connection's
# outbound budget is full, send() awaits until Go has taken its events
# (IN_WRITABLE). Go owns every socket: nothing here does network I/O.
#
# Specs: ASGI 3.0 (https://asgi.readthedocs.io/en/latest/specs/main.html),
# HTTP and WebSocket spec version 2.4, lifespan 2.0.
import asyncio
import collections
import inspect
import os
import sys

import _gowsgi

# _c (the C functions of asgi.c) is put in this module's namespace by
# gw_asgi_prepare before this source runs.

# Events from Go (asgi.h, GW_IN_*).
IN_HTTP, IN_WS, IN_BODY, IN_DISCONNECT, IN_WS_MESSAGE, IN_WRITABLE, \
    IN_STARTUP, IN_SHUTDOWN, IN_STOP, IN_PING, IN_CANCEL = range(11)
# Events to Go (asgi.h, GW_OUT_*).
OUT_START, OUT_BODY, OUT_TRAILERS, OUT_PATHSEND, OUT_DONE, OUT_WS_ACCEPT, \
    OUT_WS_SEND, OUT_WS_CLOSE, OUT_LIFESPAN, OUT_LOG, OUT_WANT, OUT_INFO = range(12)
# flags of out events
F_MORE, F_TRAILERS, F_TEXT = 1, 2, 4
# flags of in events
IF_MORE, IF_TEXT = 1, 2
# What out(OUT_LIFESPAN) reports.
LS_STARTED, LS_FAILED, LS_UNSUPPORTED, LS_STOPPED = range(4)
# How far a response got (OUT_DONE's status).
NOTHING, STARTED, COMPLETE = range(3)

ASGI_HTTP = {"version": "3.0", "spec_version": "2.4"}
ASGI_WS = {"version": "3.0", "spec_version": "2.4"}
ASGI_LIFESPAN = {"version": "3.0", "spec_version": "2.0"}


class ClientDisconnected(OSError):
    """send() on a connection whose client is gone (HTTP spec 2.4,
    "Disconnected Client - Send Exception")."""


class ProtocolError(RuntimeError):
    """The app sent a message the protocol does not allow now."""


class Runtime:
    def __init__(self, q, efd, handle, loop_kind, lifespan, app):
        self.q = q
        self.efd = efd
        self.h = handle
        self.lifespan_mode = lifespan
        self.app = app
        self.conns = {}
        self.state = {}
        self.lifespan = None
        self.loop = new_loop(loop_kind)
        self.loop_name = type(self.loop).__module__.split(".")[0]
        self.loop.set_exception_handler(self.on_loop_error)
        self.loop.add_reader(efd, self.wake)

    def log(self, text):
        _c.out(self.h, 0, OUT_LOG, 0, None, None, 0, text)

    def on_loop_error(self, loop, context):
        # asyncio's default handler logs through logging; the worker's log
        # is Go's.
        msg = context.get("message", "unhandled error in the event loop")
        exc = context.get("exception")
        if exc is not None:
            msg += "\n" + _gowsgi.format_exception(exc)
        self.log(msg.rstrip("\n"))

    def wake(self):
        try:
            os.read(self.efd, 8)
        except BlockingIOError:
            pass
        for ev in _c.take(self.q):
            self.dispatch(*ev)

    def dispatch(self, cid, kind, flags, code, data):
        if kind == IN_HTTP or kind == IN_WS:
            scope = decode_scope(data, kind == IN_WS)
            scope["state"] = self.state.copy()
            cls = HTTPCycle if kind == IN_HTTP else WSCycle
            c = self.conns[cid] = cls(self, cid, scope)
            c.task = self.loop.create_task(c.run())
        elif kind == IN_PING:
            pass
        elif kind == IN_STARTUP:
            self.lifespan = Lifespan(self)
            self.lifespan.startup()
        elif kind == IN_SHUTDOWN:
            if self.lifespan is None:
                _c.out(self.h, 0, OUT_LIFESPAN, LS_STOPPED, None, None, 0, None)
            else:
                self.lifespan.shutdown()
        elif kind == IN_STOP:
            self.loop.stop()
        else:
            c = self.conns.get(cid)
            if c is not None:
                c.deliver(kind, flags, code, data)

    def done(self, cid):
        self.conns.pop(cid, None)


def new_loop(kind):
    if kind in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if kind == "uvloop":
                raise
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def decode_scope(b, ws):
    """The scope Go encoded (asgi.go, encodeScope): fields as
    [u32 length][bytes] in order, after a u32 count of headers."""
    pos = 0

    def field():
        nonlocal pos
        n = int.from_bytes(b[pos:pos + 4], sys.byteorder)
        v = b[pos + 4:pos + 4 + n]
        pos += 4 + n
        return v

    http_version = field().decode("ascii")
    method = field().decode("ascii")
    scheme = field().decode("ascii")
    path = field().decode("utf-8", "replace")
    raw_path = field()
    query = field()
    root_path = field().decode("utf-8", "replace")
    client = address(field(), field())
    server = address(field(), field())
    n = int.from_bytes(field(), sys.byteorder)
    headers = [(field(), field()) for _ in range(n)]
    scope = {
        "type": "websocket" if ws else "http",
        "asgi": ASGI_WS if ws else ASGI_HTTP,
        "http_version": http_version,
        "scheme": scheme,
        "path": path,
        "raw_path": raw_path,
        "query_string": query,
        "root_path": root_path,
        "headers": headers,
        "client": client,
        "server": server,
    }
    if ws:
        protocols = []
        for name, value in headers:
            if name == b"sec-websocket-protocol":
                protocols += [p.strip() for p in value.decode("latin-1").split(",") if p.strip()]
        scope["subprotocols"] = protocols
    else:
        scope["method"] = method
        # Go sends the file with sendfile(2) (asgi.go, the engine), and
        # trailers after the last chunk (engine/respond.go).
        scope["extensions"] = {"http.response.pathsend": {}, "http.response.trailers": {}}
    return scope


def address(host, port):
    """(host, port) for TCP; (path, None) for a unix socket (Uvicorn's
    form); None when unknown."""
    if not host:
        return None
    p = port.decode("ascii")
    return (host.decode("utf-8", "surrogateescape"), int(p) if p else None)


def header_pairs(headers):
    """The app's headers as a list the C side walks: any iterable of
    two-item iterables of bytes."""
    return headers if type(headers) is list else list(headers)


class Cycle:
    """What is common to an HTTP request and a WebSocket: the events Go
    delivers, awaited by receive(), and the outbound budget."""

    def __init__(self, rt, cid, scope):
        self.rt = rt
        self.cid = cid
        self.scope = scope
        self.events = collections.deque()
        self.waiter = None
        self.paused = None
        self.gone = False
        self.task = None

    def wake_receiver(self):
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def deliver(self, kind, flags, code, data):
        if kind == IN_CANCEL:
            if self.task is not None:
                self.task.cancel()
            return
        if kind == IN_WRITABLE:
            p = self.paused
            if p is not None and not p.done():
                p.set_result(None)
            return
        if kind == IN_DISCONNECT:
            self.gone = True
            p = self.paused
            if p is not None and not p.done():
                p.set_result(None)
        self.events.append((kind, flags, code, data))
        self.wake_receiver()

    async def next_event(self):
        while not self.events:
            _c.out(self.rt.h, self.cid, OUT_WANT, 0, None, None, 0, None)
            self.waiter = self.rt.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.events.popleft()

    async def out(self, kind, status, headers, body, flags, text):
        r = _c.out(self.rt.h, self.cid, kind, status, headers, body, flags, text)
        if r < 0:
            self.gone = True
            raise ClientDisconnected("the client is gone")
        if r == 0 and not self.gone:
            # Over the budget: wait until Go has taken what is queued.
            self.paused = self.rt.loop.create_future()
            try:
                await self.paused
            finally:
                self.paused = None

    def finish(self, status, exc):
        text = None
        if exc is not None:
            text = _gowsgi.format_exception(exc)
        self.rt.done(self.cid)
        _c.out(self.rt.h, self.cid, OUT_DONE, status, None, None, 1 if self.gone else 0, text)


class HTTPCycle(Cycle):
    """One HTTP request (ASGI HTTP spec 2.4)."""

    def __init__(self, rt, cid, scope):
        super().__init__(rt, cid, scope)
        self.state = NOTHING
        self.trailers = False  # the response promised trailers
        self.body_done = False
        self.complete = False

    async def receive(self):
        if self.gone:
            return {"type": "http.disconnect"}
        if self.complete and not self.events:
            # Uvicorn's rule: once the response is sent, the request is over.
            return {"type": "http.disconnect"}
        kind, flags, _, data = await self.next_event()
        if kind == IN_DISCONNECT:
            self.events.appendleft((kind, flags, 0, data))  # stays
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": data or b"", "more_body": bool(flags & IF_MORE)}

    async def send(self, msg):
        t = msg["type"]
        if self.gone:
            raise ClientDisconnected("the client is gone")
        if t == "http.response.start":
            if self.state != NOTHING:
                raise ProtocolError("http.response.start sent twice")
            status = msg["status"]
            if type(status) is not int or not 100 <= status <= 999:
                raise ProtocolError("http.response.start status must be an int of three digits, not %r" % (status,))
            self.trailers = bool(msg.get("trailers", False))
            headers = header_pairs(msg.get("headers", ()))
            self.state = STARTED
            await self.out(OUT_START, status, headers, None, F_TRAILERS if self.trailers else 0, None)
        elif t == "http.response.body":
            if self.state == NOTHING:
                raise ProtocolError("http.response.body sent before http.response.start")
            if self.body_done:
                raise ProtocolError("http.response.body sent after the response body was complete")
            body = msg.get("body", b"")
            if not isinstance(body, (bytes, bytearray, memoryview)):
                raise ProtocolError("http.response.body body must be bytes, not %s" % type(body).__name__)
            more = bool(msg.get("more_body", False))
            if not more:
                self.body_done = True
                if not self.trailers:
                    self.state, self.complete = COMPLETE, True
            await self.out(OUT_BODY, 0, None, body, F_MORE if more else 0, None)
        elif t == "http.response.trailers":
            if not self.trailers:
                raise ProtocolError("http.response.trailers sent but http.response.start did not ask for trailers")
            if not self.body_done or self.complete:
                raise ProtocolError("http.response.trailers sent before the body was complete, or twice")
            more = bool(msg.get("more_trailers", False))
            if not more:
                self.state, self.complete = COMPLETE, True
            await self.out(OUT_TRAILERS, 0, header_pairs(msg.get("headers", ())), None, F_MORE if more else 0, None)
        elif t == "http.response.pathsend":
            if self.state != STARTED or self.body_done:
                raise ProtocolError("http.response.pathsend sent before http.response.start or after the body")
            path = msg["path"]
            if not isinstance(path, str) or not os.path.isabs(path):
                raise ProtocolError("http.response.pathsend path must be an absolute path, not %r" % (path,))
            self.body_done = True
            if not self.trailers:
                self.state, self.complete = COMPLETE, True
            await self.out(OUT_PATHSEND, 0, None, None, 0, path)
        else:
            raise ProtocolError("unexpected ASGI message type %r on an HTTP connection" % (t,))

    async def run(self):
        exc = None
        try:
            await self.rt.app(self.scope, self.receive, self.send)
            if self.state == NOTHING:
                exc = ProtocolError("the ASGI app returned without starting a response")
            elif not self.complete:
                exc = ProtocolError("the ASGI app returned without completing the response")
        except BaseException as e:  # CancelledError too: the task was stopped
            exc = e
        self.finish(COMPLETE if self.complete else self.state, exc)


# WebSocket states
WS_CONNECTING, WS_ACCEPTED, WS_CLOSED, WS_DENYING, WS_DENIED = range(5)


class WSCycle(Cycle):
    """One WebSocket (ASGI WebSocket spec 2.4). Go does the framing, the
    handshake answer, ping/pong and close frames; this side sees
    messages."""

    def __init__(self, rt, cid, scope):
        super().__init__(rt, cid, scope)
        self.state = WS_CONNECTING
        self.connected_sent = False
        self.close_code = 1005

    async def receive(self):
        if not self.connected_sent:
            self.connected_sent = True
            return {"type": "websocket.connect"}
        if self.gone and not self.events:
            return {"type": "websocket.disconnect", "code": self.close_code, "reason": ""}
        kind, flags, code, data = await self.next_event()
        if kind == IN_DISCONNECT:
            self.close_code = code or 1005
            self.gone = True
            reason = data.decode("utf-8", "replace") if data else ""
            return {"type": "websocket.disconnect", "code": self.close_code, "reason": reason}
        if flags & IF_TEXT:
            return {"type": "websocket.receive", "text": data.decode("utf-8")}
        return {"type": "websocket.receive", "bytes": data}

    async def send(self, msg):
        t = msg["type"]
        if self.gone or self.state in (WS_CLOSED, WS_DENIED):
            raise ClientDisconnected("the WebSocket is closed")
        if t == "websocket.accept":
            if self.state != WS_CONNECTING:
                raise ProtocolError("websocket.accept sent twice or after a denial began")
            self.state = WS_ACCEPTED
            sub = msg.get("subprotocol")
            await self.out(OUT_WS_ACCEPT, 0, header_pairs(msg.get("headers", ())), None, 0, sub)
        elif t == "websocket.send":
            if self.state != WS_ACCEPTED:
                raise ProtocolError("websocket.send sent before websocket.accept")
            text, data = msg.get("text"), msg.get("bytes")
            if (text is None) == (data is None):
                raise ProtocolError("websocket.send needs exactly one of bytes and text")
            if text is not None:
                await self.out(OUT_WS_SEND, 0, None, text.encode("utf-8"), F_TEXT, None)
            else:
                await self.out(OUT_WS_SEND, 0, None, data, 0, None)
        elif t == "websocket.close":
            if self.state == WS_DENYING:
                raise ProtocolError("websocket.close sent during a websocket.http.response")
            code = msg.get("code", 1000)
            reason = msg.get("reason") or ""
            self.state = WS_CLOSED
            await self.out(OUT_WS_CLOSE, int(code), None, None, 0, reason)
        elif t == "websocket.http.response.start":
            if self.state != WS_CONNECTING:
                raise ProtocolError("websocket.http.response.start sent after websocket.accept")
            self.state = WS_DENYING
            await self.out(OUT_START, msg["status"], header_pairs(msg.get("headers", ())), None, 0, None)
        elif t == "websocket.http.response.body":
            if self.state != WS_DENYING:
                raise ProtocolError("websocket.http.response.body sent before websocket.http.response.start")
            more = bool(msg.get("more_body", False))
            if not more:
                self.state = WS_DENIED
            await self.out(OUT_BODY, 0, None, msg.get("body", b""), F_MORE if more else 0, None)
        else:
            raise ProtocolError("unexpected ASGI message type %r on a WebSocket" % (t,))

    async def run(self):
        exc = None
        try:
            await self.rt.app(self.scope, self.receive, self.send)
            if self.state == WS_DENYING:
                exc = ProtocolError("the ASGI app returned during a websocket.http.response")
        except BaseException as e:
            exc = e
        self.finish(self.state, exc)


def single_callable(app):
    """ASGI 3 apps are called once; an ASGI 2 app (a class, or a callable
    returning the coroutine function) is wrapped, as asgiref's
    guarantee_single_callable does."""
    if inspect.isclass(app):
        double = True
    elif inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(getattr(app, "__call__", None)):
        double = False
    else:
        double = callable(app)
    if not double:
        return app

    async def asgi3(scope, receive, send):
        return await app(scope)(receive, send)
    return asgi3


rt = None


def prepare(q, efd, handle, loop_kind, lifespan, spec):
    """Creates the loop on this (the loop's) thread; returns its name."""
    global rt
    app = _gowsgi.app
    if spec:
        app = load(spec)
    rt = Runtime(q, efd, handle, loop_kind, lifespan, single_callable(app))
    asyncio.set_event_loop(rt.loop)
    return rt.loop_name


def load(spec):
    module, name, call = _gowsgi._parse_spec(spec)
    import importlib
    target = getattr(importlib.import_module(module), name)
    if call is not None:
        target = target(*call[0], **call[1])
    return target


def run():
    """Runs the loop until IN_STOP, then ends what is left: tasks still
    running are cancelled and given one more pass, async generators
    closed, the loop closed."""
    global rt
    loop = rt.loop
    try:
        loop.run_forever()
        tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.remove_reader(rt.efd)
        asyncio.set_event_loop(None)
        loop.close()
        rt = None
