# _gowsgi_asgi: the Python side of the ASGI runtime (asgi.c, asgi.go).
#
# One asyncio event loop runs on one dedicated OS thread of the worker.
# Go never calls into it directly: it queues events in C (gw_aq_post) and
# wakes the loop through an eventfd registered with loop.add_reader, so an
# idle loop sleeps in epoll without the GIL. What the app sends is queued
# in C by _c.out, which copies it and never blocks, and tells Go unless
# Go has not yet taken what it was told of last. When a connection owes Go a whole budget of bytes not yet
# credited back (IN_WRITABLE), its send() awaits. Go owns every socket:
# nothing here does network I/O.
#
# Specs: ASGI 3.0 (https://asgi.readthedocs.io/en/latest/specs/main.html),
# HTTP and WebSocket spec version 2.4, lifespan 2.0.
import asyncio
import collections
import contextvars
import inspect
import itertools
import os
import stat

import _gowsgi

# _c (the C functions of asgi.c) is put in this module's namespace by
# gw_asgi_prepare before this source runs.

# Events from Go (asgi.h, GW_IN_*).
IN_HTTP, IN_WS, IN_BODY, IN_DISCONNECT, IN_WS_MESSAGE, IN_WRITABLE, \
    IN_STARTUP, IN_SHUTDOWN, IN_STOP, IN_PING, IN_CANCEL = range(11)
# Events to Go (asgi.h, GW_OUT_*).
OUT_START, OUT_BODY, OUT_TRAILERS, OUT_PATHSEND, OUT_DONE, OUT_WS_ACCEPT, \
    OUT_WS_SEND, OUT_WS_CLOSE, OUT_LIFESPAN, OUT_LOG, OUT_WANT, OUT_ZEROCOPY, \
    OUT_INFO = range(13)
# flags of out events
F_MORE, F_TRAILERS, F_TEXT = 1, 2, 4
# flags of in events
IF_MORE, IF_TEXT, IF_CLOSE = 1, 2, 4
# What out(OUT_LIFESPAN) reports.
LS_STARTED, LS_FAILED, LS_UNSUPPORTED, LS_STOPPED = range(4)
# How far a response got (OUT_DONE's status).
NOTHING, STARTED, COMPLETE = range(3)

ASGI_LIFESPAN = {"version": "3.0", "spec_version": "2.0"}
# Seconds before the events a take could not make (out of memory) are
# taken again.
TAKE_RETRY = 0.05

# The connection id of the request (or WebSocket) whose task runs, set in
# its task's context: a task it starts copies that context, so code the
# loop runs for a request is known as the request's wherever it runs (a
# middleware's task group, asyncio.wait_for); 0 outside any request.
# Read by running() (asgi_entry.py) for the --timeout log.
REQUEST = contextvars.ContextVar("gowsgi_request", default=0)


class ClientDisconnected(OSError):
    """send() on a connection whose client is gone (HTTP spec 2.4,
    "Disconnected Client - Send Exception")."""


class ProtocolError(RuntimeError):
    """The app sent a message the protocol does not allow now."""


class Runtime:
    def __init__(self, q, efd, loop_kind, lifespan, app):
        self.q = q
        self.efd = efd
        self.lifespan_mode = lifespan
        self.app = app
        self.conns = {}
        self.state = {}
        self.lifespan = None
        self.retrying = False  # a take_again is due
        # After a MemoryError in handle: the event whose request could not
        # be started (or None), and the iterator of the rest of its batch
        # (or None): wake handles them before taking more.
        self.held = self.rest = None
        # The loop the app's import saw as current, if any: asyncio.get_event_loop()
        # at import then gives the loop that serves, as under Uvicorn.
        self.loop = _gowsgi.take_import_loop() or _gowsgi.new_loop(loop_kind)
        self.loop_name = type(self.loop).__module__.split(".")[0]
        self.loop.set_exception_handler(self.on_loop_error)
        self.loop.add_reader(efd, self.wake)

    def log(self, text):
        _c.out(self.q, 0, OUT_LOG, 0, None, None, 0, text)

    def on_loop_error(self, loop, context):
        # asyncio's default handler logs through logging; the worker's log
        # is Go's.
        msg = context.get("message", "unhandled error in the event loop")
        exc = context.get("exception")
        if exc is not None:
            msg += "\n" + _gowsgi.format_exception(exc)
        self.log(msg.rstrip("\n"))

    def wake(self):
        # take reads the eventfd. A new request's data is its scope, built
        # in C (asgiscope.c); its code is the connection's budget.
        try:
            if self.rest is not None:  # before anything taken since
                events = self.rest if self.held is None else itertools.chain((self.held,), self.rest)
                self.held = self.rest = None
                self.handle(events)
            self.handle(iter(_c.take(self.q, self.state)))
        except MemoryError:
            # take left every event queued, and handle the rest of its
            # batch in held and rest. Tried again shortly, as memory may
            # come back (a large response freed); not at once, which
            # would spin, nor only at Go's next post, which may not come.
            if not self.retrying:
                self.loop.call_later(TAKE_RETRY, self.take_again)
                self.retrying = True
            raise  # logged: on_loop_error

    def handle(self, events):
        """Starts the requests and delivers the events of a batch (an
        iterator), in order. When memory runs out, the rest of the batch
        waits for wake, and so does an event whose request could not be
        started (only its own cycle and task were made, and are made
        anew); any other event may have been half delivered (a body
        queued, its receiver not woken) and is not delivered again."""
        conns, create_task = self.conns, self.loop.create_task
        for ev in events:
            cid, kind, flags, code, data = ev
            if kind == IN_HTTP or kind == IN_WS:
                try:
                    if kind == IN_HTTP:
                        c = HTTPCycle(self, cid, data, code)
                    else:
                        data["subprotocols"] = subprotocols(data["headers"])
                        c = WSCycle(self, cid, data, code)
                    c.task = create_task(c.run())
                except MemoryError:
                    self.held, self.rest = ev, events
                    raise
                conns[cid] = c
            else:
                try:
                    self.dispatch(cid, kind, flags, code, data)
                except MemoryError:
                    self.rest = events
                    raise

    def take_again(self):
        self.retrying = False
        self.wake()

    def dispatch(self, cid, kind, flags, code, data):
        if kind == IN_PING:
            pass
        elif kind == IN_STARTUP:
            self.lifespan = Lifespan(self)
            self.lifespan.startup()
        elif kind == IN_SHUTDOWN:
            if self.lifespan is None:
                _c.out(self.q, 0, OUT_LIFESPAN, LS_STOPPED, None, None, 0, None)
            else:
                self.lifespan.shutdown()
        elif kind == IN_STOP:
            self.loop.stop()
        else:
            c = self.conns.get(cid)
            if c is not None:
                c.deliver(kind, flags, code, data)


def zerocopy_region(msg):
    """An http.response.zerocopysend's file region for Go, "FD OFFSET
    COUNT" (ASGI extensions, "Zero Copy Send"): FD a duplicate of the
    app's descriptor, which Go sends from and closes, since the app may
    close its file once send() returns. Without an offset the region
    starts at the file's position, which moves past it, as sendfile(2)
    reading from the file would move it; without a count it runs to the
    end of the file, and a count past the end stops there."""
    f = msg["file"]
    fd = f if type(f) is int else f.fileno()
    offset, count = msg.get("offset"), msg.get("count")
    for name, v in (("offset", offset), ("count", count)):
        if v is not None and (type(v) is not int or v < 0):
            raise ProtocolError("http.response.zerocopysend %s must be an int >= 0, not %r" % (name, v))
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise ProtocolError("http.response.zerocopysend file must be a regular file")
    moves = offset is None
    if moves:
        offset = os.lseek(fd, 0, os.SEEK_CUR)
    count = max(min(st.st_size - offset, st.st_size if count is None else count), 0)
    dup = os.dup(fd)
    if moves:
        os.lseek(fd, offset + count, os.SEEK_SET)
    return "%d %d %d" % (dup, offset, count)


def header_pairs(headers):
    """The app's headers as a list the C side walks: any iterable of
    two-item iterables of bytes."""
    return headers if type(headers) is list else list(headers)


class Cycle:
    """What is common to an HTTP request and a WebSocket: the events Go
    delivers, awaited by receive(), and the outbound budget."""

    __slots__ = ("rt", "cid", "scope", "budget", "owed", "events", "waiter", "paused", "gone", "task")

    def __init__(self, rt, cid, scope, budget):
        self.rt = rt
        self.cid = cid
        self.scope = scope
        self.budget = budget
        self.owed = 0  # the cost of what was sent and not yet credited back
        self.events = collections.deque()
        self.waiter = None
        self.paused = None  # the futures of the sends awaiting room(); None: none yet
        self.gone = False
        self.task = None

    def wake_receiver(self):
        w = self.waiter
        if w:
            for f in w:
                if not f.done():
                    f.set_result(None)

    def deliver(self, kind, flags, code, data):
        if kind == IN_CANCEL:
            if self.task is not None:
                self.task.cancel()
            return
        if kind == IN_WRITABLE:
            self.owed -= code
            if self.paused:
                self.resume_senders()
            return
        if kind == IN_DISCONNECT:
            self.gone = True
            if self.paused:
                self.resume_senders()
            if flags & IF_CLOSE:
                # The server ends the WebSocket: its Close goes after what
                # the app sent before now, and send() refuses from now on.
                _c.out(self.rt.q, self.cid, OUT_WS_CLOSE, code, None, None, 0, None)
        self.events.append((kind, flags, code, data))
        self.wake_receiver()

    async def next_event(self):
        while not self.events:
            _c.out(self.rt.q, self.cid, OUT_WANT, 0, None, None, 0, None)
            # Each waiter a future of its own, all woken by an event (as
            # for paused): tasks of one connection may receive at once.
            f = self.rt.loop.create_future()
            if self.waiter is None:
                self.waiter = []
            self.waiter.append(f)
            try:
                await f
            finally:
                self.waiter.remove(f)
        return self.events.popleft()

    def out(self, kind, status, headers, body, flags, text):
        """Queues an event for Go; True when a whole budget is owed and
        send() must await room() (not a coroutine of its own: most sends
        never wait)."""
        self.owed += _c.out(self.rt.q, self.cid, kind, status, headers, body, flags, text)
        return self.owed >= self.budget

    async def room(self):
        """Waits until Go has taken enough of what was sent. Several
        tasks of one connection may wait at once (one echoing, one
        broadcasting): each has a future of its own in paused, all woken
        together; one shared future would be cancelled with the first
        waiter cancelled."""
        while self.owed >= self.budget and not self.gone:
            f = self.rt.loop.create_future()
            if self.paused is None:
                self.paused = []
            self.paused.append(f)
            try:
                await f
            finally:
                self.paused.remove(f)

    def resume_senders(self):
        for f in self.paused:
            if not f.done():
                f.set_result(None)

    def finish(self, status, exc):
        text = None
        if exc is not None:
            text = _gowsgi.format_exception(exc)
        self.rt.conns.pop(self.cid, None)
        _c.out(self.rt.q, self.cid, OUT_DONE, status, None, None, 1 if self.gone else 0, text)


class HTTPCycle(Cycle):
    """One HTTP request (ASGI HTTP spec 2.4)."""

    __slots__ = ("state", "trailers", "body_done", "complete")

    def __init__(self, rt, cid, scope, budget):
        # Cycle's fields set here, not through super(): one per request.
        self.rt = rt
        self.cid = cid
        self.scope = scope
        self.budget = budget
        self.owed = 0
        self.events = collections.deque()
        self.waiter = None
        self.paused = None
        self.gone = False
        self.task = None
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
            # self.out, inlined: a request's two usual sends. Started only
            # once it took the headers: one it refused (str names) queued
            # nothing, and the app may send a corrected start.
            self.owed += _c.out(self.rt.q, self.cid, OUT_START, status, headers, None,
                                F_TRAILERS if self.trailers else 0, None)
            self.state = STARTED
            if self.owed >= self.budget:
                await self.room()
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
            self.owed += _c.out(self.rt.q, self.cid, OUT_BODY, 0, None, body, F_MORE if more else 0, None)
            if self.owed >= self.budget:
                await self.room()
        elif t == "http.response.trailers":
            if not self.trailers:
                raise ProtocolError("http.response.trailers sent but http.response.start did not ask for trailers")
            if not self.body_done or self.complete:
                raise ProtocolError("http.response.trailers sent before the body was complete, or twice")
            more = bool(msg.get("more_trailers", False))
            if not more:
                self.state, self.complete = COMPLETE, True
            if self.out(OUT_TRAILERS, 0, header_pairs(msg.get("headers", ())), None, F_MORE if more else 0, None):
                await self.room()
        elif t == "http.response.pathsend":
            if self.state != STARTED or self.body_done:
                raise ProtocolError("http.response.pathsend sent before http.response.start or after the body")
            path = msg["path"]
            if not isinstance(path, str) or not os.path.isabs(path):
                raise ProtocolError("http.response.pathsend path must be an absolute path, not %r" % (path,))
            self.body_done = True
            if not self.trailers:
                self.state, self.complete = COMPLETE, True
            if self.out(OUT_PATHSEND, 0, None, None, 0, path):
                await self.room()
        elif t == "http.response.zerocopysend":
            if self.state != STARTED or self.body_done:
                raise ProtocolError("http.response.zerocopysend sent before http.response.start or after the body")
            more = bool(msg.get("more_body", False))
            text = zerocopy_region(msg)
            if not more:
                self.body_done = True
                if not self.trailers:
                    self.state, self.complete = COMPLETE, True
            if self.out(OUT_ZEROCOPY, 0, None, None, F_MORE if more else 0, text):
                await self.room()
        elif t == "http.response.informational":
            # Gunicorn 25's message for a 1xx before the response (103
            # Early Hints); Go drops it where a client cannot take one.
            if self.state != NOTHING:
                raise ProtocolError("http.response.informational sent after http.response.start")
            status = msg["status"]
            if type(status) is not int or not 100 <= status <= 199 or status == 101:
                raise ProtocolError("http.response.informational status must be an int from 100 to 199 "
                                    "other than 101, not %r" % (status,))
            if self.out(OUT_INFO, status, header_pairs(msg.get("headers", ())), None, 0, None):
                await self.room()
        else:
            raise ProtocolError("unexpected ASGI message type %r on an HTTP connection" % (t,))

    async def run(self):
        REQUEST.set(self.cid)
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
