# _gowsgi_hooks: Gunicorn's server hooks, run by gowsgi.
#
# The same source runs in two places (docs/gunicorn.md, "Server hooks"):
# - in each worker's embedded interpreter, as the module _gowsgi_hooks,
#   for the worker-side hooks; pyshim/hooks.c calls load() and call(),
#   and provides _emit(level, text) into the worker's error log;
# - as the program of the hook host (`gowsgi __gowsgi_hookhost__`), the
#   Python process the Go master drives over two pipes for the
#   master-side hooks, with hookhost.py (host_main) after this source.
#
# The objects given to hooks carry what real hooks use. An attribute of
# Gunicorn's objects that cannot mean the same thing here raises
# AttributeError saying why, rather than returning something else.
import collections.abc
import importlib
import inspect
import json
import logging
import os
import sys
import time
import traceback

HOOKS = ("on_starting", "on_reload", "when_ready", "pre_fork", "post_fork", "post_worker_init",
         "worker_int", "worker_abort", "pre_exec", "pre_request", "post_request", "child_exit",
         "worker_exit", "nworkers_changed", "on_exit")

LEVELS = {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "critical"}

hooks = {}      # name -> callable, as Gunicorn's validators leave them
cfg = None      # Config
log = None      # Log
_emit = None    # emit(level, text): set by the embedding


def _missing(owner, name, why):
    return AttributeError("%s.%s has no meaning in gowsgi: %s" % (owner, name, why))


class Log:
    """server.log and worker.log: Gunicorn's logger methods. As Gunicorn's
    Logger, they write through the gunicorn.error logger, or the logger
    class's instance, once Python's logging is set up in this process
    (pylogging.py), so that a logging configuration applies to the hooks'
    lines too; before that, straight into gowsgi's error log."""

    def debug(self, msg, *args, **kwargs):
        self._log("debug", msg, args, kwargs)

    def info(self, msg, *args, **kwargs):
        self._log("info", msg, args, kwargs)

    def warning(self, msg, *args, **kwargs):
        self._log("warning", msg, args, kwargs)

    warn = warning

    def error(self, msg, *args, **kwargs):
        self._log("error", msg, args, kwargs)

    def critical(self, msg, *args, **kwargs):
        self._log("critical", msg, args, kwargs)

    def exception(self, msg, *args, **kwargs):
        kwargs.setdefault("exc_info", True)
        self._log("error", msg, args, kwargs)

    def log(self, lvl, msg, *args, **kwargs):
        if isinstance(lvl, int):
            lvl = LEVELS.get(lvl - lvl % 10, "info")
        lvl = str(lvl).lower()
        self._log(lvl if lvl in LEVELS.values() else "info", msg, args, kwargs)  # as Gunicorn's LOG_LEVELS.get

    def reopen_files(self):
        pass  # gowsgi reopens its log files on USR1 itself

    def _log(self, level, msg, args, kwargs):
        try:
            # as logging.LogRecord formats: one dict argument is the mapping
            mapping = len(args) == 1 and isinstance(args[0], collections.abc.Mapping) and args[0]
            text = str(msg) % (args[0] if mapping else args) if args else str(msg)
        except (TypeError, ValueError):
            msg = text = "%s %r" % (msg, args)
            args = ()
        target = _error_log()
        if target is not None:
            getattr(target, level)(msg, *args, **kwargs)
            return
        exc = kwargs.get("exc_info")
        if exc:
            if isinstance(exc, BaseException):
                exc = (type(exc), exc, exc.__traceback__)
            elif not isinstance(exc, tuple):
                exc = sys.exc_info()
            if exc[0] is not None:
                text += "\n" + "".join(traceback.format_exception(*exc)).rstrip()
        _emit(level, text)

    def __getattr__(self, name):
        if name == "access":
            raise _missing("log", name, "gowsgi writes the access log itself (--access-logfile)")
        raise _missing("log", name, "gowsgi's logs are written in Go; use debug, info, warning, "
                       "error, exception or critical")


def _error_log():
    """Where Gunicorn's Logger writes its error lines: the logger class's
    instance (pylogging.py's _logger) or the gunicorn.error logger, once
    pylogging.py's setup() ran in this process; None before."""
    mod = sys.modules.get("_gowsgi_logging")
    if mod is None or getattr(mod, "_emit", None) is None:
        return None
    return getattr(mod, "_logger", None) or logging.getLogger("gunicorn.error")


class Config(GunicornConfig):  # gunicornmod.py
    """server.cfg and worker.cfg: the settings, and the hooks the file
    defines (cfg.post_fork), as Gunicorn's cfg has them."""

    def __getattr__(self, name):
        if name in HOOKS:
            return hooks.get(name)
        return super().__getattr__(name)


class Server:
    """The `server` of hooks: Gunicorn's arbiter as far as hooks use it."""

    master_name = "Master"

    def __init__(self, state):
        self.reexec_pid = 0
        self.master_pid = 0
        self.cfg, self.log = cfg, log
        self.proc_name = cfg.proc_name or cfg.wsgi_app
        self.address = cfg.address
        self.timeout = cfg.timeout
        self._refresh(state)

    def _refresh(self, state):
        self.pid = state.get("pid", 0)
        self.num_workers = state.get("num_workers", 0)
        pids = state.get("workers", [])
        ages = state.get("worker_ages") or [0] * len(pids)
        attrs = state.get("worker_attrs") or [None] * len(pids)
        self.WORKERS = {p: _host_worker({"pid": p, "ppid": self.pid, "age": age, "attrs": a})
                        for p, age, a in zip(pids, ages, attrs)}

    def __getattr__(self, name):
        whys = {
            "app": "there is no Gunicorn Application object; the app is imported by each worker",
            "worker_class": "the workers are gowsgi's own; cfg.worker_class_str names the class asked for",
            "LISTENERS": "the listening sockets belong to the Go master",
            "SIG_QUEUE": "signals are handled by the Go master",
        }
        raise _missing("server", name, whys.get(name, "the master is a Go process; Gunicorn's "
                                                  "Arbiter has no counterpart of this attribute"))


class _Application:
    """worker.app: Gunicorn's WSGIApplication as far as hooks use it
    (authentik's post_worker_init calls worker.app.callable's startup)."""

    def __init__(self, app):
        self.callable, self.cfg = app, cfg

    def wsgi(self):
        return self.callable

    def __getattr__(self, name):
        raise _missing("worker.app", name, "gowsgi loads the app itself; worker.app has callable, cfg and wsgi()")


class Worker:
    """The `worker` of hooks: in a worker, the worker itself; in the
    master's hooks (pre_fork, child_exit), the worker concerned."""

    def __init__(self, state):
        self.cfg, self.log = cfg, log
        self.timeout = cfg.timeout / 2.0 if cfg.timeout else 0
        self._refresh(state)
        # What pre_fork stored on this worker in the hook host, as a
        # forked Worker keeps what the arbiter's pre_fork set on it.
        for k, v in (state.get("attrs") or {}).items():
            setattr(self, k, v)

    def _refresh(self, state):
        """Sets what Gunicorn's Worker tracks from the state Go sent;
        attributes hooks set are left alone."""
        self.pid = state.get("pid")
        self.ppid = state.get("ppid", 0)
        self.age = state.get("age", 0)
        self.alive = state.get("alive", True)
        self.booted = state.get("booted", False)
        self.aborted = state.get("aborted", False)
        self.exitcode = state.get("exitcode")

    def notify(self):
        pass  # liveness is the age of the oldest app call, measured by Go

    @property
    def wsgi(self):
        gw = sys.modules.get("_gowsgi")
        if gw is None or gw.app is None:
            raise _missing("worker", "wsgi", "the app is not loaded in this process")
        return gw.app

    @property
    def app(self):
        """Gunicorn's Application as hooks use it: its callable (the app,
        WSGI or ASGI), cfg, wsgi()."""
        return _Application(self.wsgi)

    def __getattr__(self, name):
        whys = {
            "tmp": "workers report liveness to the master over a pipe; there is no heartbeat file",
            "sockets": "the listening sockets are served by Go",
            "nr": "gowsgi counts requests in Go (see /metrics)",
        }
        raise _missing("worker", name, whys.get(name, "the worker is a Go process embedding Python; "
                                                  "Gunicorn's Worker has no counterpart of this attribute"))


# The attributes of req that Gunicorn's wsgi.create reads after
# pre_request to build the environ, besides headers and version: what a
# pre_request hook changes of them reaches the app (Request._changes).
REQ_STRINGS = ("method", "uri", "path", "query", "scheme")


class Request:
    """The `req` of pre_request and post_request: gunicorn.http.Request's
    attributes. Strings are latin-1, as Gunicorn decodes the request."""

    def __init__(self, r):
        self._given = r  # what the worker described, to tell what a hook changed
        self.method = r["method"]
        self.uri = r["uri"]
        self.path = r["path"]
        self.query = r["query"]
        self.fragment = r.get("fragment", "")
        self.version = self._given_version = tuple(r["version"])
        self._given_headers = [tuple(h) for h in r["headers"]]
        self.headers = list(self._given_headers)  # a copy: headers.append() must show
        self.scheme = r["scheme"]
        self.remote_addr = r.get("remote_addr")
        self.peer_addr = self.remote_addr
        self.trailers = []

    def _changes(self):
        """What pre_request changed of what the app is given, as a dict
        for the worker's JSON (engine.RequestChange): the changed strings,
        the whole header list if it changed, "version": true if that
        changed (the worker ignores it, and says so). Empty when nothing
        changed, which is what most requests cost: five string
        comparisons and one of two lists of the same tuples. A value the
        app cannot be given (not a str) raises, as the hook itself raising
        would: the request is answered 500."""
        g = self._given
        ch = {}
        for name in REQ_STRINGS:
            v = getattr(self, name)
            if v != g[name]:
                if not isinstance(v, str):
                    raise TypeError("req.%s must be a str, not %s" % (name, type(v).__name__))
                ch[name] = v
        if self.headers != self._given_headers:
            ch["headers"] = _header_pairs(self.headers)
        if self.version != self._given_version:
            ch["version"] = True
        return ch

    def __getattr__(self, name):
        if name == "body":
            raise _missing("req", name, "the body is read by Go; the app reads it from wsgi.input")
        raise _missing("req", name, "the request is parsed by Go; gunicorn.http.Request has no "
                       "counterpart of this attribute")


def _header_pairs(headers):
    """req.headers as a pre_request hook left it, checked to be (name,
    value) pairs of str, as Gunicorn's wsgi.create needs them."""
    pairs = []
    for h in headers:
        try:
            name, value = h
        except (TypeError, ValueError):
            raise TypeError("req.headers must hold (name, value) pairs, not %r" % (h,)) from None
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("req.headers: %r: the name and value must be str" % (h,))
        pairs.append((name, value))
    return pairs


class Response:
    """The `resp` of post_request: gunicorn.http.wsgi.Response's status,
    headers and byte count once the response is sent."""

    def __init__(self, r):
        self.status = r["status"]
        self.status_code = r["status_code"]
        self.headers = [tuple(h) for h in r["headers"]]
        self.sent = r["sent"]
        self.response_length = r["sent"]

    def __getattr__(self, name):
        raise _missing("resp", name, "the response is framed and written by Go")


def _arity(f):
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        return -1
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in sig.parameters.values() if p.kind in kinds)


def _resolve(value):
    # gunicorn.config.validate_callable: a hook may be "module.function".
    if isinstance(value, str):
        mod_name, _, obj_name = value.rpartition(".")
        value = getattr(importlib.import_module(mod_name), obj_name)
    return value


def load(spec, settings, emit):
    """Executes the config file spec again, as Gunicorn's master did
    (unless a logger class of the file's did already), and keeps the
    hooks it defines. settings are the resolved settings."""
    global cfg, log, _emit
    _emit = emit
    if isinstance(settings, str):
        settings = json.loads(settings)
    cfg, log = Config(settings), Log()
    # Gunicorn's master has its directory and --pythonpath on sys.path
    # (Application.chdir and run) when hooks import "module.function".
    for p in reversed([os.getcwd()] + list(settings.get("pythonpath") or [])):
        p = os.path.abspath(p)
        if p not in sys.path:
            sys.path.insert(0, p)
    with gunicorn_module():  # gunicornmod.py
        ns = vars(load_config(spec))
    for name in HOOKS:
        if name in ns and ns[name] is not None:
            hooks[name] = _resolve(ns[name])
    post = hooks.get("post_request")
    if post is not None:  # gunicorn.config.validate_post_request
        n = _arity(post)
        if n == 3:
            hooks["post_request"] = lambda w, r, e, _resp: post(w, r, e)
        elif n == 2:
            hooks["post_request"] = lambda w, r, _e, _resp: post(w, r)
    return sorted(hooks)


# The worker's own state, kept between calls (worker side only).
_worker_state = {}
# The `worker` and `server` of this worker process, made by the first
# hook that runs here and refreshed by each call. Gunicorn passes every
# hook the same two objects (a forked Arbiter and the Worker), so what
# one hook stores on them (worker.start_time in pre_request) is there in
# the next (post_request).
_worker = None
_server = None
# The req of each request between its pre_request and post_request, by
# the connection's key (one request at a time per connection), so that
# what pre_request stores on req (req.start = time.time()) is there in
# post_request, as with Gunicorn's single Request object.
_open_requests = {}


def call(name, args, environ=None):
    """Runs hook name in a worker. args is the JSON the worker sent. It
    returns None, or JSON: for pre_request what the hook changed of req
    (Request._changes), and "retire": true when the hook set
    worker.alive = False, which Gunicorn's worker takes as "stop after
    this request" (post_request hooks that recycle a worker whose
    memory grew do it)."""
    a = json.loads(args)
    if "worker" in a:
        _worker_state.update(a["worker"])
    worker = _this_worker()
    h = hooks[name]
    out = {}
    if name == "pre_request":
        req = Request(a["req"])
        if "post_request" in hooks:
            _open_requests[a["key"]] = req
        h(worker, req)
        out = req._changes()
    elif name == "post_request":
        req = _open_requests.pop(a["key"], None) or Request(a["req"])
        h(worker, req, environ if environ is not None else {}, Response(a["resp"]))
    elif name in ("post_fork", "worker_exit"):
        h(_this_server(a.get("server", {})), worker)
    else:
        h(worker)
    if worker.alive is False and _worker_state.get("alive", True):
        out["retire"] = True
    return json.dumps(out) if out else None


def _this_worker():
    global _worker
    if _worker is None:
        _worker = Worker(_worker_state)
    else:
        _worker._refresh(_worker_state)
    return _worker


def _this_server(state):
    global _server
    if _server is None:
        _server = Server(state)
    else:
        _server._refresh(state)
    return _server
