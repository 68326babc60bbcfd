# _gowsgi: Python-side helpers of the embedded interpreter. Run once by
# gw_initialize; the C side calls load_app and format_exception, and
# reads app and base_environ after load_app.
import ast
import importlib
import io
import os
import stat
import sys
import threading  # noqa: F401 (see below)
import traceback

# threading takes the thread that first imports it for the main thread
# (threading.main_thread()), and uvloop trusts it: imported here, at
# start-up, it is the thread CPython itself calls main, not the ASGI
# event loop's, which would otherwise make uvloop call set_wakeup_fd
# off the main thread and fail.

app = None
base_environ = None
path_without_root = False


class AppLoadError(Exception):
    """The app's module imported, but the spec names nothing that can
    serve (Gunicorn's AppImportError, exit 4); an exception the import
    itself raises is a worker boot error (exit 3), as in Gunicorn."""


def format_exception(exc):
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _parse_spec(spec):
    # Gunicorn's grammar: "module", "module:name", "module:factory()",
    # "module:factory(literal, key=literal)".
    module, sep, obj = spec.partition(":")
    if not sep:
        obj = "application"
    if not module:
        raise AppLoadError("empty module name in %r" % spec)
    # "pkg.py" could be a submodule named py: only an existing file is a
    # mistake (Gunicorn's rule); a slash never belongs in a module name.
    if "/" in module or (module.endswith(".py") and os.path.isfile(module)):
        directory, _, name = module.rpartition("/")
        hint = name[:-3] if name.endswith(".py") else name
        where = " with --chdir %s" % directory if directory else ""
        raise AppLoadError(
            "%r looks like a file name; give the module name instead: %r%s"
            % (spec, hint + (":" + obj if sep else ""), where))
    try:
        expr = ast.parse(obj.strip(), mode="eval").body
    except SyntaxError:
        raise AppLoadError("failed to parse %r as an attribute name or function call" % obj) from None
    if isinstance(expr, ast.Name):
        return module, expr.id, None
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        try:
            args = [ast.literal_eval(a) for a in expr.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in expr.keywords}
        except ValueError:
            raise AppLoadError("factory arguments in %r must be literals" % obj) from None
        return module, expr.func.id, (args, kwargs)
    raise AppLoadError("failed to parse %r as an attribute name or function call" % obj)


def _is_async(target):
    """Whether target, or its __call__, is a coroutine function: an ASGI
    app, never a WSGI one."""
    import inspect
    return inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(getattr(target, "__call__", None))


def _takes_environ(target):
    """Whether target can only be a WSGI app: a callable, neither a class
    nor async, that requires exactly two positional arguments (environ,
    start_response). An ASGI 3 app takes three, an ASGI 2 one takes the
    scope alone."""
    import inspect
    if inspect.isclass(target) or _is_async(target):
        return False
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return False
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return False
    required = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    return len(required) == 2


# load_app's asgi: the worker class asked for, or none (DETECT).
WSGI, ASGI, DETECT = 0, 1, 2

# serves_asgi: whether the app load_app loaded is served as ASGI; read by
# gw_load_app for the Go side.
serves_asgi = False


def check_interface(spec, target, asgi):
    """Refuses an app the worker class cannot call: an async one under a
    WSGI worker (each request would be a 500 with a TypeError), a WSGI one
    under the ASGI worker (the same)."""
    if not asgi and _is_async(target):
        raise AppLoadError(
            "the application %r is an ASGI app (its __call__ is async); serve it with "
            "--worker-class asgi (-k asgi), or name no worker class" % spec)
    if asgi and _takes_environ(target):
        raise AppLoadError(
            "the application %r is a WSGI app (it takes environ and start_response); serve it "
            "without --worker-class asgi" % spec)


def _import_app(spec):
    module_name, name, call = _parse_spec(spec)
    module = importlib.import_module(module_name)
    try:
        target = getattr(module, name)
    except AttributeError:
        raise AppLoadError("failed to find attribute %r in %r" % (name, module_name)) from None
    if call is not None:
        if not callable(target):
            raise AppLoadError("%s.%s is not callable" % (module_name, name))
        _check_factory_arguments(target, call, "%s:%s" % (module_name, name))
        target = target(*call[0], **call[1])
    return target


def _check_factory_arguments(factory, call, where):
    # Arguments the factory does not take are the spec's mistake, not the
    # app's (Gunicorn's _called_with_wrong_args): said in one line, where
    # a TypeError the factory raises itself keeps its traceback.
    import inspect
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # a builtin, say: let the call tell
        return
    try:
        signature.bind(*call[0], **call[1])
    except TypeError as e:
        raise AppLoadError("%s: the factory's arguments do not fit: %s" % (where, e)) from None


def _load_paste(uri):
    """--paste: the app PasteDeploy builds from its config file, as
    Gunicorn's pasterapp.get_wsgi_app does; --paste-global's KEY=VALUE
    items (\\= for an = in KEY) come in GOWSGI_PASTE_GLOBAL_CONF."""
    try:
        from paste.deploy import loadapp
    except ImportError:
        raise AppLoadError("--paste needs PasteDeploy in the app's Python (pip install PasteDeploy; "
                           "Debian: python3-pastedeploy)") from None
    import json
    import re
    global_conf = None
    raw = os.environ.pop("GOWSGI_PASTE_GLOBAL_CONF", None)
    if raw is not None:
        global_conf = {}
        for item in json.loads(raw):
            k, v = re.split(r"(?<!\\)=", item, maxsplit=1)
            global_conf[k.replace("\\=", "=")] = v.replace("\\=", "=")
    return loadapp(uri, relative_to=os.getcwd(), global_conf=global_conf)


def run_exit():
    """What Python's exit does before it finalizes, as a Gunicorn worker's
    sys.exit does it: threading's exit functions (concurrent.futures'
    executors shut down), a join of the app's non-daemon threads, then
    the atexit functions, then a flush of sys.stdout and sys.stderr.
    Called on a thread that is not the main one, which does not wait for
    itself or the main thread (where threading._shutdown would)."""
    threading = sys.modules.get("threading")
    if threading is not None:
        for call in reversed(list(getattr(threading, "_threading_atexits", ()))):
            try:
                call()
            except Exception:
                traceback.print_exc()
        skip = (threading.main_thread(), threading.current_thread())
        waited = set()
        while True:
            pending = [t for t in threading.enumerate() if not t.daemon and t not in skip]
            if not pending:
                break
            names = sorted(t.name for t in pending if t not in waited)
            if names:  # a slow exit says why (on gunicorn.error, as the worker's other records)
                import logging
                logging.getLogger("gunicorn.error").info(
                    "waiting for the app's non-daemon threads to end: %s", ", ".join(names))
            waited.update(pending)
            for t in pending:
                t.join()
    import atexit
    atexit._run_exitfuncs()
    # Then, as Python's finalization does, what print() left in a
    # block-buffered stdout (a pipe or file, no PYTHONUNBUFFERED): the
    # worker exits without finalizing, which would lose it.
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


def _stop_handler(signum, frame):
    """The worker's handler of TERM, INT and QUIT as Python's signal
    module shows it, where Gunicorn's worker has handle_exit and
    handle_quit: gowsgi's Go side stops the worker, so calling it (an
    app's handler that chains to the one it replaced) does nothing more."""


def adopt_stop_signals():
    """Makes _stop_handler Python's handler of the stop signals
    (signals.c puts Go's back underneath at once)."""
    import signal
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, _stop_handler)


_fork_hooks_registered = False


def register_fork_hooks():
    """Has a process the app forks take Python's signal handlers back
    (_signals_after_fork). In a worker only, where Go runs: the --preload
    zygote forks the workers themselves through CPython's fork hooks, and
    a worker must keep _stop_handler."""
    global _fork_hooks_registered
    if not _fork_hooks_registered:
        os.register_at_fork(before=_block_signals_for_fork, after_in_parent=_unblock_signals_after_fork,
                            after_in_child=_signals_after_fork)
        _fork_hooks_registered = True


# The signal mask of each thread forking, by thread id, while it forks.
_fork_masks = {}


def _block_signals_for_fork():
    """Blocks every signal on the forking thread, so a signal sent to the
    child before it has Python's handlers (Pool.terminate right after the
    fork) waits for them instead of reaching Go's."""
    import signal
    _fork_masks[threading.get_ident()] = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())


def _unblock_signals_after_fork():
    import signal
    signal.pthread_sigmask(signal.SIG_SETMASK, _fork_masks.pop(threading.get_ident(), ()))


def _signals_after_fork():
    """In a process forked from a worker (multiprocessing's fork start
    method, os.fork in the app) only Python runs: the Go runtime did not
    come along, but its handlers of every signal did, and they swallow
    what comes (the SIGTERM of Pool.terminate, which then waits for its
    workers for ever). Each signal gets what a plain Python process has,
    the app's own handler, else the default (SIGPIPE and SIGXFSZ ignored,
    SIGINT raising KeyboardInterrupt, as Python sets them), and then the
    signals blocked for the fork are let in."""
    import signal
    python_default = {signal.SIGPIPE: signal.SIG_IGN, signal.SIGXFSZ: signal.SIG_IGN,
                      signal.SIGINT: signal.default_int_handler}
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            handler = signal.getsignal(sig)
            if handler is None or handler is _stop_handler or handler == signal.SIG_DFL:
                handler = python_default.get(sig, signal.SIG_DFL)
            signal.signal(sig, handler)
        except (OSError, ValueError, RuntimeError):
            pass
    mask = _fork_masks.pop(threading.get_ident(), ())
    _fork_masks.clear()  # other threads' forks happened in the parent
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def run_signal_handler(signum):
    """Calls the handler an app installed for signum, if any, as the
    signal would have under Gunicorn; reports whether there was one."""
    import signal
    handler = signal.getsignal(signum)
    if not callable(handler) or handler is _stop_handler:
        return False
    handler(signum, None)
    return True


def new_loop(kind):
    """A new event loop of --loop's kind: uvloop's for auto when it is
    installed, asyncio's otherwise."""
    if kind in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if kind == "uvloop":
                raise
        else:
            return uvloop.new_event_loop()
    import asyncio
    return asyncio.new_event_loop()


# The event loop an ASGI app's import saw as current, for the worker to
# serve on (take_import_loop); only in a worker (prepare_import_loop),
# never in the --preload zygote, whose loop the forked workers would
# share.
import_loop = None
_import_loop_wanted = False


def prepare_import_loop(kind, create):
    """Lets an ASGI app's import see the loop that will serve it, as
    Uvicorn does by importing the app inside its running loop: a module
    that calls asyncio.get_event_loop() at import (a client bound to it,
    run_in_executor, a future) gets that loop, where it got one that never
    ran. create (the ASGI worker class was named): the loop is made now,
    of kind, and set current; else (the worker class is found from the
    app) a loop the import itself made current is kept if the app is
    ASGI."""
    global import_loop, _import_loop_wanted
    _import_loop_wanted = True
    if create:
        import asyncio
        import_loop = new_loop(kind)
        asyncio.set_event_loop(import_loop)


def _keep_import_loop():
    """After an ASGI app's import: the loop it left current, if any, is
    the one to serve on. It may be another than the one made before the
    import: an app that installs uvloop's policy (uvloop.install()) and
    then asks for a loop gets a loop of that policy's; the one made
    before is then closed."""
    global import_loop
    if not _import_loop_wanted or "asyncio" not in sys.modules:
        return
    policy = sys.modules["asyncio"].get_event_loop_policy()
    current = getattr(getattr(policy, "_local", None), "_loop", None)
    if current is None or current is import_loop or current.is_closed() or current.is_running():
        return
    if import_loop is not None and not import_loop.is_closed():
        import_loop.close()
    import_loop = current


def take_import_loop():
    """The loop the import saw, once, if it can still serve; else None."""
    global import_loop
    loop, import_loop = import_loop, None
    if loop is None or loop.is_closed() or loop.is_running():
        return None
    return loop


def _routes_on_path_without_root():
    """Whether the app's ASGI framework wants scope["path"] without
    root_path: Starlette before 0.33 (Debian bookworm's 0.26; FastAPI
    before 0.104) routes on path alone, as Uvicorn before 0.26 built it,
    so with the mount point in front of path, as the spec and Uvicorn
    0.26+ put it, no route matched under --root-path."""
    starlette = sys.modules.get("starlette")
    try:
        return tuple(int(n) for n in starlette.__version__.split(".")[:2]) < (0, 33)
    except (AttributeError, ValueError):
        return False


def load_app(spec, paths, multithread, asgi, errors=None, file_wrapper=None):
    global app, base_environ, serves_asgi, path_without_root
    for p in reversed(paths):
        if p in sys.path:
            sys.path.remove(p)
        sys.path.insert(0, p)
    if spec.startswith("config:/"):
        target = _load_paste(spec)
    else:
        target = _import_app(spec)
    if target is None:
        raise AppLoadError("the application %r is None" % spec)
    if not callable(target):
        raise AppLoadError("the application %r is not callable" % spec)
    if asgi == DETECT:
        # No worker class named: an async app is ASGI (as Hypercorn
        # decides); anything else, a class included (PEP 3333 allows
        # one), is WSGI, Gunicorn's default.
        asgi = ASGI if _is_async(target) else WSGI
    check_interface(spec, target, asgi)
    serves_asgi = asgi == ASGI
    path_without_root = serves_asgi and _routes_on_path_without_root()
    if serves_asgi:
        _keep_import_loop()
    app = target
    base_environ = {
        # CGI's (RFC 3875) and Gunicorn's: apps log it, debug pages show
        # it, some decide by it (httpbin refuses chunked bodies from a
        # server it does not know). No version, as in the Server header.
        "SERVER_SOFTWARE": "gowsgi",
        "wsgi.version": (1, 0),
        "wsgi.multithread": bool(multithread),
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.errors": errors if errors is not None else sys.stderr,
        "wsgi.file_wrapper": file_wrapper or FileWrapper,
        "wsgi.input_terminated": True,
    }
    return app


def _client_socket_class():
    import socket

    class ClientSocket(socket.socket):
        """The client's connection as Gunicorn gives it to a request that
        asks to become a WebSocket (environ["gunicorn.socket"]), for an
        app that speaks the protocol on it itself: simple-websocket, so
        Flask-Sock and python-engineio. Its first use, of any attribute
        but the dunder ones, marks it used: gowsgi then sends nothing of
        the app's response and closes the connection when the call
        returns. Looking it up, or printing an environ that holds it
        (repr), is no use."""

        __slots__ = ("_gowsgi_used",)

        def __getattribute__(self, name):
            if name[:2] != "__":
                object.__setattr__(self, "_gowsgi_used", True)
            return object.__getattribute__(self, name)

        def __repr__(self):
            fileno = object.__getattribute__(self, "fileno")
            return "<gowsgi client socket fd=%d>" % fileno()

    return ClientSocket


_ClientSocket = None


def client_socket(fd):
    # A duplicate, which the socket closes as its own; blocking, as
    # Gunicorn's is (gowsgi makes the connection non-blocking again once
    # the app returns: the flag belongs to the open file both share).
    global _ClientSocket
    if _ClientSocket is None:
        _ClientSocket = _client_socket_class()
    dup = os.dup(fd)
    try:
        sock = _ClientSocket(fileno=dup)
    except BaseException:
        os.close(dup)
        raise
    sock.setblocking(True)
    object.__setattr__(sock, "_gowsgi_used", False)
    return sock


class FileInput(io.BufferedReader):
    """wsgi.input for a body spilled to a file or streamed from the
    connection (gw_file_input). BufferedReader.read(n) makes room for n
    bytes before it reads, so read(10**12) raised MemoryError and
    read(sys.maxsize) OverflowError where Gunicorn (and a body in
    memory) returns the body; a large n is read in pieces, holding what
    the body holds."""

    __slots__ = ()

    def read(self, size=-1):
        if size is None or size <= _INPUT_PIECE:  # negative: to the end
            return super().read(size)
        pieces = []
        while size > 0:
            piece = super().read(min(size, _INPUT_PIECE))
            if not piece:
                break
            pieces.append(piece)
            size -= len(piece)
        return b"".join(pieces)


_INPUT_PIECE = 1 << 20


def file_input(fd):
    """The FileInput reading fd, which it owns and closes."""
    return FileInput(io.FileIO(fd, "rb"))


class FileWrapper:
    """wsgi.file_wrapper (PEP 3333 "Optional Platform-Specific File Handling").

    When an app returns one around a regular file, the worker sends the
    file with sendfile(2) from its current position (see file_region);
    otherwise it is iterated in blocks like any iterable. close() closes
    the file.
    """

    def __init__(self, filelike, blksize=65536):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


def file_region(wrapper):
    """(fd, offset, length) of the regular file a FileWrapper wraps, from
    its current position to its end, or None when it must be read in
    blocks: no fileno(), a pipe or socket, a text file."""
    f = wrapper.filelike
    if isinstance(f, io.TextIOBase):
        return None
    try:
        fd = f.fileno()
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        try:
            offset = f.tell()
        except (AttributeError, OSError, ValueError):
            offset = os.lseek(fd, 0, os.SEEK_CUR)
    except (AttributeError, OSError, ValueError, TypeError):
        return None
    return fd, offset, max(st.st_size - offset, 0)
