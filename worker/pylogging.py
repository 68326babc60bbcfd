# _gowsgi_logging: Python's logging as Gunicorn sets it up, in each
# worker's interpreter before the server hooks and the app load (in the
# --preload zygote before the import). pyshim/pylogging.c runs this
# source and calls setup(settings, emit); emit(levelno, name, text)
# writes into gowsgi's error log. reopen() runs on USR1.
#
# What Gunicorn's Logger (gunicorn/glogging.py) does: the gunicorn.error
# logger writes to the error log at --log-level and does not propagate;
# gunicorn.access is at INFO and does not propagate; then logconfig_dict,
# logconfig_json or logconfig is applied, the first two merged over
# CONFIG_DEFAULTS (which sends the root logger to stdout at INFO). An
# ASGI worker also gives uvicorn.error and uvicorn.access those loggers'
# handlers and levels, as Uvicorn's Gunicorn worker does, unless a
# logging configuration was given.
#
# With a logging configuration, access(atoms) writes each request's
# record on gunicorn.access as Gunicorn's Logger.access does; the worker
# calls it (pyshim/pylogging.c) once per request, on a thread of its
# own, after the response went out.
#
# With a logger class (logger_class), setup() makes one, as Gunicorn's
# master does: its setup() (gowsgi's gunicorn.glogging.Logger.setup,
# glogging.py, unless it overrides it) sets the loggers up as above, the
# access lines going through a handler (AccessLineHandler) into the
# worker's access log; access(atoms) calls its access() with objects
# shaped as Gunicorn's. gunicornmod.py is put before this source.
import datetime
import http
import importlib
import json
import logging
import os
import sys
import traceback
import types

LEVELS = {"critical": logging.CRITICAL, "error": logging.ERROR, "warning": logging.WARNING,
          "info": logging.INFO, "debug": logging.DEBUG}

_glogging = glogging_module()  # gunicornmod.py
# gunicorn.glogging.CONFIG_DEFAULTS of Gunicorn 26.
CONFIG_DEFAULTS = _glogging.CONFIG_DEFAULTS
# SafeAtoms of Gunicorn 26: a formatter reading record.args finds the
# same dict.
SafeAtoms = _glogging.SafeAtoms

# _emit_access(text) writes one line into the worker's access log
# (--access-logfile, syslog); pylogging.c sets it once setup() ran.
_emit_access = None
_emit = None  # setup()'s emit, for the logger class's handlers


class ErrorLogHandler(logging.Handler):
    """Writes each record into gowsgi's error log, which adds the time,
    the level and the process itself (console or JSON, --log-format):
    the handler Gunicorn puts on gunicorn.error writes to --error-logfile.
    The text is the message with its traceback, if any."""

    def __init__(self, emit):
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))
        self._emit = emit
        self._gunicorn = True  # as Gunicorn marks its own handlers

    def emit(self, record):
        try:
            self._emit(record.levelno, record.name, self.format(record))
        except Exception:
            self.handleError(record)


class GunicornAccessHandler(logging.Handler):
    """Stands in on gunicorn.access for the handlers Gunicorn puts there
    for accesslog and syslog, whose lines gowsgi writes in Go. A logging
    configuration that configures gunicorn.access removes it, as it
    removes Gunicorn's, and the access log file stays empty under
    Gunicorn: access_state() tells the worker whether to write those
    lines."""

    _gunicorn = True

    def emit(self, record):
        pass


_access = None  # (gunicorn.access, access_log_format, marker) once setup() ran with a configuration


def access(atoms):
    """Writes one request's record, as Gunicorn's Logger.access: msg is
    the access log format, args the SafeAtoms, and what a handler raises
    goes to gunicorn.error. With a logger class, its access() does."""
    if _logger is not None:
        try:
            _logger.access(*_access_objects(atoms))
        except Exception:
            logging.getLogger("gunicorn.error").error(traceback.format_exc())
        return
    log, fmt, _ = _access
    if not log.isEnabledFor(logging.INFO):  # as log.info() checks, before building SafeAtoms
        return
    safe_atoms = SafeAtoms(atoms)
    try:
        log.info(fmt, safe_atoms)
    except Exception:
        logging.getLogger("gunicorn.error").error(traceback.format_exc())


def access_state():
    """(records, kept), asked once the app is imported: whether access()
    is to be called for each request (a logging configuration is set, as
    Gunicorn's Logger.access checks), and whether Gunicorn's own access
    handlers are still on gunicorn.access, so that gowsgi writes their
    lines (a configuration that names gunicorn.access, or the app,
    removed them)."""
    if _logger is not None:  # its handlers write the lines
        return _records, False
    if _access is None:
        return False, True
    log, _, marker = _access
    return True, marker is not None and marker in log.handlers


def setup(settings, emit):
    global _access, _emit, _config_spec
    _emit = emit
    s = json.loads(settings)
    _config_spec = s.get("config") or ""
    for p in reversed(s.get("paths") or []):  # as load_app puts them
        if p in sys.path:
            sys.path.remove(p)
        sys.path.insert(0, p)
    if s.get("logger_class"):
        _setup_logger_class(s)
        return
    error_log = logging.getLogger("gunicorn.error")
    error_log.propagate = False
    error_log.setLevel(LEVELS.get(s.get("loglevel"), logging.INFO))
    # Set up again after a HUP (in the hook host, which lives on): one
    # handler of ours, as Gunicorn's Logger.setup keeps one.
    error_log.handlers = [h for h in error_log.handlers if not isinstance(h, ErrorLogHandler)]
    error_log.addHandler(ErrorLogHandler(emit))
    access_log = logging.getLogger("gunicorn.access")
    access_log.propagate = False
    access_log.setLevel(logging.INFO)

    configured = bool(s.get("logconfig_dict") or s.get("logconfig_json") or s.get("logconfig"))
    if configured:
        marker = None
        if s.get("access_handler"):
            marker = GunicornAccessHandler()
            access_log.addHandler(marker)
        _access = (access_log, s.get("access_log_format", ""), marker)

    if not _apply_config(s) and s.get("asgi"):
        # With no logging configuration of the user's, as Uvicorn's
        # Gunicorn worker does (UvicornWorker.__init__); a configuration
        # says itself where uvicorn.error goes, as under Uvicorn.
        for name, source in (("uvicorn.error", error_log), ("uvicorn.access", access_log)):
            logger = logging.getLogger(name)
            logger.handlers = list(source.handlers)
            logger.setLevel(source.level)
            logger.propagate = False


def _apply_config(s):
    """Applies logconfig_dict, else logconfig_json, else logconfig, as
    Gunicorn does; reports whether there was one."""
    if s.get("logconfig_dict"):
        config = dict(CONFIG_DEFAULTS)
        config.update(_logconfig_dict(s["logconfig_dict"]))
        _config().dictConfig(config)
    elif s.get("logconfig_json"):
        with open(s["logconfig_json"], encoding="utf-8") as f:
            config = dict(CONFIG_DEFAULTS)
            config.update(json.load(f))
        _config().dictConfig(config)
    elif s.get("logconfig"):
        _file_config(s["logconfig"])
    else:
        return False
    return True


def _logconfig_dict(d):
    """d, or the config file's own logconfig_dict when d holds objects
    only the file has (a filter class it defines, a lambda), which its
    reader marks {"$py": TYPE} (pyconfig.py): the file, executed again
    in this process as for the hooks (load_config), makes them anew."""
    if not _holds_objects(d):
        return d
    if not _config_spec:  # a --print-config output read back, say
        raise ValueError("logconfig_dict holds Python objects a config file made, and no config file is given")
    with gunicorn_module():  # gunicornmod.py
        return load_config(_config_spec).logconfig_dict


def _holds_objects(v):
    if isinstance(v, dict):
        return "$py" in v or any(_holds_objects(x) for x in v.values())
    if isinstance(v, list):
        return any(_holds_objects(x) for x in v)
    return False


_config_spec = ""  # the config file (Gunicorn's cfg.config), for _logconfig_dict
_logger = None    # the logger class's instance, when there is one
_records = False  # whether its access() is to be called for each request


class _Backend:
    """What gunicorn.glogging.Logger asks of the worker (glogging.py)."""

    @staticmethod
    def setup(logger, cfg):
        logger._set_handler(logger.error_log, cfg.errorlog or "-", logging.Formatter("%(message)s"))
        if cfg.accesslog is not None:
            logger._set_handler(logger.access_log, cfg.accesslog, logging.Formatter(logger.access_fmt),
                                stream=sys.stdout)
        elif _glogging.access_to_syslog(cfg):  # the lines go to syslog only
            logger._set_handler(logger.access_log, "", logging.Formatter(logger.access_fmt))
        _apply_config({k: getattr(cfg, k, None) for k in ("logconfig_dict", "logconfig_json", "logconfig")})

    @staticmethod
    def handler(logger, log, output, stream):
        """Gunicorn's handler for output: gowsgi's error log or access log
        when output is theirs ("-" being stderr for the error log and
        stdout for the access log, as Gunicorn's setup() writes them; a
        class that asks for the access log on "-" with no stream gets
        stderr, as under Gunicorn)."""
        cfg = logger.cfg
        std = output == "-"
        if log is logger.error_log and output == (cfg.errorlog or "-") and (not std or stream in (None, sys.stderr)):
            return ErrorLogHandler(_emit)
        if log is logger.access_log and output == (cfg.accesslog or "") and (not std or stream is sys.stdout):
            return AccessLineHandler()
        if std:
            return logging.StreamHandler(stream)
        return logging.FileHandler(output)

    @staticmethod
    def reopen():
        reopen()


class AccessLineHandler(logging.Handler):
    """The handler Gunicorn puts on gunicorn.access for accesslog and
    syslog, for a logger class: each record's text is one line of the
    worker's access log, where gowsgi writes its own lines otherwise."""

    def emit(self, record):
        try:
            if _emit_access is not None:
                _emit_access(self.format(record))
        except Exception:
            self.handleError(record)


def _setup_logger_class(s):
    global _logger, _records
    glogging = use_glogging()  # gunicornmod.py
    glogging._backend = _Backend
    cfg = GunicornConfig(s["cfg"])  # gunicornmod.py
    with gunicorn_module():
        cls = _logger_class(s["logger_class"], s.get("config") or "")
    _logger = cls(cfg)
    # Logger.access logs nothing without an access log, a logging
    # configuration or syslog; a class of its own may.
    _records = type(_logger).access is not glogging.Logger.access or glogging.logs_access(cfg)


def _logger_class(path, config_spec):
    """The class path names, as Gunicorn's load_class finds it:
    module.Class, __config__.NAME being the config file's NAME; a
    function is called for the class."""
    module, _, name = path.rpartition(".")
    mod = load_config(config_spec) if module == "__config__" else importlib.import_module(module)
    try:
        obj = getattr(mod, name)
    except AttributeError:
        raise ImportError("logger_class %r: module %r has no %r" % (path, module, name)) from None
    if not isinstance(obj, type) and callable(obj):
        obj = obj()
    if not isinstance(obj, type):
        raise TypeError("logger_class %r is not a class: %r" % (path, obj))
    return obj


def _access_objects(atoms):
    """Gunicorn's (resp, req, environ, request_time) of one request, from
    its atoms: the environ's text variables, the request's fields with
    Gunicorn's upper-case names, the response's with the usual case."""
    environ, req_headers, resp_headers = {}, [], []
    for key, value in atoms.items():
        if key[:1] != "{":
            continue
        name, kind = key[1:-2], key[-1]
        if kind == "e":
            environ[name if "." in name else name.upper()] = value
        elif kind == "i":
            req_headers.append((name.upper(), value))
        elif kind == "o":
            resp_headers.append(("-".join(p.capitalize() for p in name.split("-")), value))
    code = atoms.get("s")
    status = code
    if isinstance(code, str):  # WSGI: Gunicorn's is the app's status line; the standard phrase stands in
        code = int(code) if code.isdigit() else 0
        try:
            status = "%d %s" % (code, http.HTTPStatus(code).phrase)
        except ValueError:
            status = str(code)
    length = atoms.get("{content-length}o")
    resp = types.SimpleNamespace(
        status=status, status_code=code, headers=resp_headers, sent=atoms.get("B"),
        response_length=int(length) if length and length.isdigit() else None)
    uri = environ.get("RAW_URI", "")
    major, _, minor = (atoms.get("H") or "")[len("HTTP/"):].partition(".")
    version = (int(major), int(minor)) if major.isdigit() and minor.isdigit() else (1, 1)
    port = environ.get("REMOTE_PORT", "")
    req = types.SimpleNamespace(
        method=atoms.get("m"), uri=uri, path=uri.split("?", 1)[0], query=atoms.get("q") or "", fragment="",
        version=version, headers=req_headers, trailers=[], scheme=environ.get("wsgi.url_scheme", "http"),
        remote_addr=(environ.get("REMOTE_ADDR", ""), int(port) if port.isdigit() else 0))
    req.peer_addr = req.remote_addr
    return resp, req, environ, datetime.timedelta(microseconds=atoms.get("D") or 0)


def reopen():
    """Reopens the files of Python's logging by name, after logrotate
    moved them (USR1), as Gunicorn's Logger.reopen_files does; the root
    logger's too."""
    manager = logging.Logger.manager
    for logger in [logging.root] + list(manager.loggerDict.values()):
        for handler in getattr(logger, "handlers", ()):  # a PlaceHolder has none
            if isinstance(handler, logging.FileHandler):
                handler.acquire()
                try:
                    if handler.stream:
                        handler.close()
                        handler.stream = handler._open()
                finally:
                    handler.release()


def _config():
    """logging.config, imported only when there is a configuration (it
    costs 10 ms)."""
    import logging.config
    return logging.config


def _file_config(path):
    ext = os.path.splitext(path)[1].lower()
    if ext == ".json":  # as Uvicorn's --log-config reads one
        with open(path, encoding="utf-8") as f:
            _config().dictConfig(json.load(f))
    elif ext in (".yaml", ".yml"):
        import yaml  # Uvicorn needs PyYAML for these files too
        with open(path, encoding="utf-8") as f:
            _config().dictConfig(yaml.safe_load(f))
    else:
        defaults = dict(CONFIG_DEFAULTS)
        defaults["__file__"] = path
        defaults["here"] = os.path.dirname(path)
        _config().fileConfig(path, defaults=defaults, disable_existing_loggers=False)
