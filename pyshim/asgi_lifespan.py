# The lifespan protocol of _gowsgi_asgi: this source runs after
# asgi.py's, in the same module (asgi.go).


class Lifespan:
    """The lifespan protocol (ASGI lifespan spec 2.0), run as one task
    for the life of the worker."""

    def __init__(self, rt):
        self.rt = rt
        self.events = asyncio.Queue()
        self.phase = "startup"
        self.reported = False
        self.failed = False  # what was reported is a lifespan.*.failed
        self.task = None

    def report(self, what, text=None):
        self.reported = True
        _c.out(self.rt.q, 0, OUT_LIFESPAN, what, None, None, 0, text)

    def startup(self):
        self.events.put_nowait({"type": "lifespan.startup"})
        self.task = self.rt.loop.create_task(self.run())

    def shutdown(self):
        if self.task is None or self.task.done():
            self.report(LS_STOPPED)
            return
        self.phase = "shutdown"
        self.reported = False
        self.events.put_nowait({"type": "lifespan.shutdown"})

    async def receive(self):
        return await self.events.get()

    async def send(self, msg):
        t = msg["type"]
        if t == "lifespan.startup.complete" and self.phase == "startup" and not self.reported:
            self.report(LS_STARTED)
        elif t == "lifespan.startup.failed" and self.phase == "startup" and not self.reported:
            self.failed = True
            self.report(LS_FAILED, msg.get("message") or "lifespan.startup.failed")
        elif t == "lifespan.shutdown.complete" and self.phase == "shutdown" and not self.reported:
            self.report(LS_STOPPED)
        elif t == "lifespan.shutdown.failed" and self.phase == "shutdown" and not self.reported:
            self.failed = True
            self.report(LS_FAILED, msg.get("message") or "lifespan.shutdown.failed")
        else:
            raise ProtocolError("unexpected lifespan message %r during %s" % (t, self.phase))

    async def run(self):
        scope = {"type": "lifespan", "asgi": ASGI_LIFESPAN, "state": self.rt.state}
        try:
            await self.rt.app(scope, self.receive, self.send)
        except BaseException as e:
            if self.reported and self.failed:
                # Starlette sends startup.failed with the traceback, then
                # raises the same exception: logged once, as the failure.
                return
            if self.reported and self.phase == "startup":
                # Started, then raised: reported when shutdown comes.
                self.rt.log("the ASGI lifespan task raised after startup:\n" + _gowsgi.format_exception(e))
                return
            if not self.reported:
                text = _gowsgi.format_exception(e)
                if self.phase == "startup" and self.rt.lifespan_mode == "auto":
                    self.report(LS_UNSUPPORTED, text)
                else:
                    self.report(LS_FAILED, text)
            return
        if not self.reported:
            # Returned without a word: Uvicorn takes that as done.
            self.report(LS_STARTED if self.phase == "startup" else LS_STOPPED)
