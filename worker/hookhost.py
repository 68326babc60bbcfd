# The hook host's side of _gowsgi_hooks (hooks.py, which runs before it
# in the same namespace): the Python process the Go master drives over
# two pipes for the master-side hooks (docs/gunicorn.md, "Server hooks").


# The master's hooks see one Worker object per worker, by its number
# (worker.age), as Gunicorn's arbiter keeps one: what pre_fork stores on
# it (worker._worker_id) is there in server.WORKERS and child_exit. The
# master keeps what JSON can carry of it, for a host a HUP started.
_host_workers = {}

# The attributes Worker sets itself; others were stored by hooks.
_WORKER_FIELDS = {"cfg", "log", "timeout", "pid", "ppid", "age", "alive", "booted", "aborted", "exitcode"}


def _host_worker(state):
    age = state.get("age", 0)
    w = _host_workers.get(age)
    if w is None:
        w = _host_workers[age] = Worker(state)
    else:
        w._refresh(state)
    return w


def host_call(name, a):
    """Runs a master-side hook in the hook host, with one `server` for all
    of them, as Gunicorn's arbiter is: what on_starting stores on it
    (server._ids = set()) is there in pre_fork. For pre_fork it returns
    what the hook stored on the worker that JSON can carry, which the
    worker starts with."""
    server = _this_server(a.get("server", {}))
    h = hooks[name]
    if name in ("pre_fork", "child_exit"):
        worker = _host_worker(a.get("worker", {}))
        if name == "pre_fork":
            if worker.pid is None:
                worker.pid = "[booting]"  # Gunicorn's Worker until the fork sets it
            h(server, worker)
            return _stored_attrs(worker)
        h(server, worker)
        _host_workers.pop(worker.age, None)
        return None
    if name == "nworkers_changed":
        return h(server, a.get("new"), a.get("old"))
    return h(server)


def _stored_attrs(worker):
    out = {}
    for k, v in vars(worker).items():
        if k in _WORKER_FIELDS:
            continue
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            continue  # a client or a lock: made again in post_fork, as it must be after a fork
        out[k] = v
    return out


def _setup_host_logging(settings, send):
    """Python's logging in the hook host, as in a worker (pylogging.py,
    run by the host's script as _gowsgi_logging): Gunicorn's master sets
    it up before its first hook."""
    mod = sys.modules.get("_gowsgi_logging")
    if mod is None:
        return
    if isinstance(settings, str):
        settings = json.loads(settings)
    s = {k: settings.get(k) for k in ("loglevel", "logconfig_dict", "logconfig_json", "logconfig", "config")}
    s["paths"] = None  # load() put the working directory and pythonpath on sys.path
    s["asgi"] = settings.get("worker_class") == "asgi"

    def emit(levelno, name, text):
        level = next((LEVELS[n] for n in (50, 40, 30, 20) if levelno >= n), "debug")
        send({"log": level, "text": text, "logger": name})
    mod.setup(json.dumps(s), emit)


def host_main():
    """The hook host: fd 3 brings one JSON request per line from the
    master, fd 4 takes log lines and one reply per request."""
    import signal
    # Signals are the master's business: Ctrl-C and systemd's TERM reach
    # the whole process group, and on_exit must still run afterwards.
    # The host ends when the master closes its pipe.
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1,
              signal.SIGUSR2, signal.SIGTTIN, signal.SIGTTOU, signal.SIGWINCH):
        signal.signal(s, signal.SIG_IGN)
    rd = os.fdopen(3, "r")
    wr = os.fdopen(4, "w")

    def send(msg):
        wr.write(json.dumps(msg) + "\n")
        wr.flush()

    first = json.loads(rd.readline())
    try:
        names = load(first["spec"], first["settings"], lambda lvl, text: send({"log": lvl, "text": text}))
        _setup_host_logging(first["settings"], send)
    except BaseException:
        send({"error": traceback.format_exc()})
        return 1
    send({"ready": names})
    for line in rd:
        req = json.loads(line)
        if "reload" in req:  # HUP
            r = req["reload"]
            try:
                names = reload(r["spec"], r["settings"], lambda lvl, text: send({"log": lvl, "text": text}),
                               lambda: _setup_host_logging(r["settings"], send))
                send({"ready": names})
            except BaseException:
                send({"error": traceback.format_exc()})
            continue
        if req.get("reopen"):  # USR1: the master reopened its logs
            try:
                mod = sys.modules.get("_gowsgi_logging")
                if mod is not None:
                    mod.reopen()
                send({"done": "reopen"})
            except BaseException:
                send({"done": "reopen", "error": traceback.format_exc()})
            continue
        try:
            attrs = host_call(req["hook"], req)
            if req["hook"] == "pre_fork" and attrs:
                send({"done": req["hook"], "worker_attrs": attrs})
            else:
                send({"done": req["hook"]})
        except BaseException as exc:
            send({"done": req["hook"], "error": traceback.format_exc(), "exit": isinstance(exc, SystemExit)})
    return 0


def reload(spec, settings, emit, setup_logging):
    """HUP in the hook host: executes the re-read config file in this same
    process, as Gunicorn's arbiter re-reads it in itself, so that what
    its hooks started (a metrics server in when_ready) keeps running and
    what they stored on `server` stays; `server` takes the new settings,
    as the arbiter's setup() gives them. The hooks are then the new
    file's; when it or the logging setup fails, still the old ones."""
    global cfg, log
    saved = dict(hooks), cfg, log, sys.modules.pop("__config__", None)  # load_config's, executed afresh
    hooks.clear()
    try:
        names = load(spec, settings, emit)
        setup_logging()
        if _server is not None:
            _server.cfg, _server.log = cfg, log
            _server.proc_name = cfg.proc_name or cfg.wsgi_app
            _server.address, _server.timeout = cfg.address, cfg.timeout
        return names
    except BaseException:
        hooks.clear()
        hooks.update(saved[0])
        cfg, log = saved[1], saved[2]
        if saved[3] is not None:
            sys.modules["__config__"] = saved[3]
        raise
