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
import json
import logging
import os
import sys

LEVELS = {"critical": logging.CRITICAL, "error": logging.ERROR, "warning": logging.WARNING,
          "info": logging.INFO, "debug": logging.DEBUG}

# gunicorn.glogging.CONFIG_DEFAULTS of Gunicorn 26.
CONFIG_DEFAULTS = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "INFO", "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": True,
                           "qualname": "gunicorn.error"},
        "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": True,
                            "qualname": "gunicorn.access"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "generic", "stream": "ext://sys.stdout"},
        "error_console": {"class": "logging.StreamHandler", "formatter": "generic",
                          "stream": "ext://sys.stderr"},
    },
    "formatters": {
        "generic": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
                    "datefmt": "[%Y-%m-%d %H:%M:%S %z]", "class": "logging.Formatter"},
    },
}


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


def setup(settings, emit):
    s = json.loads(settings)
    for p in reversed(s.get("paths") or []):  # as load_app puts them
        if p in sys.path:
            sys.path.remove(p)
        sys.path.insert(0, p)
    error_log = logging.getLogger("gunicorn.error")
    error_log.propagate = False
    error_log.setLevel(LEVELS.get(s.get("loglevel"), logging.INFO))
    error_log.addHandler(ErrorLogHandler(emit))
    access_log = logging.getLogger("gunicorn.access")
    access_log.propagate = False
    access_log.setLevel(logging.INFO)

    if s.get("logconfig_dict"):
        config = dict(CONFIG_DEFAULTS)
        config.update(s["logconfig_dict"])
        _config().dictConfig(config)
    elif s.get("logconfig_json"):
        with open(s["logconfig_json"], encoding="utf-8") as f:
            config = dict(CONFIG_DEFAULTS)
            config.update(json.load(f))
        _config().dictConfig(config)
    elif s.get("logconfig"):
        _file_config(s["logconfig"])
    elif s.get("asgi"):
        # With no logging configuration of the user's, as Uvicorn's
        # Gunicorn worker does (UvicornWorker.__init__); a configuration
        # says itself where uvicorn.error goes, as under Uvicorn.
        for name, source in (("uvicorn.error", error_log), ("uvicorn.access", access_log)):
            logger = logging.getLogger(name)
            logger.handlers = list(source.handlers)
            logger.setLevel(source.level)
            logger.propagate = False


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
