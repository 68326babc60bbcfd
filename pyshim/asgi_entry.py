# The entry points of _gowsgi_asgi that C calls: prepare and run on the
# loop's thread, running from another. This source runs after
# asgi.py's and asgi_lifespan.py's, in the same module (asgi.go).


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


def prepare(q, efd, loop_kind, lifespan, spec):
    """Creates the loop on this (the loop's) thread; returns its name."""
    global rt
    app = _gowsgi.app
    if spec:
        app = load(spec)
    rt = Runtime(q, efd, loop_kind, lifespan, single_callable(app))
    asyncio.set_event_loop(rt.loop)
    return rt.loop_name


def running(ctx):
    """The id of the connection the loop runs code for now: ctx is the
    context of the loop's thread (gw_asgi_running), which is the task's
    it runs, and REQUEST there names the request whose task it is or
    whose task started it. 0 when the loop runs nothing of a request
    (it is idle, or runs a task of the lifespan's or one the app started
    in a context of its own). Called from another thread while the
    loop's is held at a GIL switch, for the --timeout log."""
    if rt is None or ctx is None:
        return 0
    return ctx.get(REQUEST, 0)


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
