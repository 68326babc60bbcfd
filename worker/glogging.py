# gowsgi's gunicorn.glogging: Gunicorn's logger module as a logger_class
# (docs/gunicorn.md, "A logger class") sees it. A class that subclasses
# Logger to filter the access log, add atoms, format records or apply
# its own logging configuration runs in each worker, and the access
# records and lines go through it as under Gunicorn.
#
# gunicornmod.py makes this module from its source (the Go side puts it
# there as _GLOGGING_SOURCE): while a config file runs where Gunicorn is
# not installed, and in a worker with a logger class, where it stands in
# for Gunicorn's own module even if that is installed, since the logs
# it sets up are gowsgi's. What writes where is the worker's
# (_gowsgi_logging, pylogging.py), given to this module as _backend; a
# config reader never makes a Logger, so it needs none.
import base64
import binascii
import logging
import os
import threading
import time
import traceback

# The worker's logging, set by _gowsgi_logging: setup(logger, cfg),
# handler(logger, log, output, stream) and reopen().
_backend = None

SYSLOG_FACILITIES = {
    "auth": 4, "authpriv": 10, "cron": 9, "daemon": 3, "ftp": 11, "kern": 0, "lpr": 6, "mail": 2,
    "news": 7, "security": 4, "syslog": 5, "user": 1, "uucp": 8, "local0": 16, "local1": 17,
    "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

# Gunicorn 26's defaults, over which logconfig_dict and logconfig_json
# are merged.
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


def access_to_syslog(cfg):
    """Whether the access lines go to syslog too (gowsgi's, not Gunicorn's)."""
    return bool(cfg.syslog and not cfg.disable_redirect_access_to_syslog)


def logs_access(cfg):
    """Whether Logger.access logs at all (gowsgi's, not Gunicorn's): an
    access log, a logging configuration or syslog."""
    return bool(cfg.accesslog or cfg.logconfig or cfg.logconfig_dict or cfg.logconfig_json or access_to_syslog(cfg))


def loggers():
    """Every logger there is, as Gunicorn's loggers()."""
    root = logging.root
    return [logging.getLogger(name) for name in root.manager.loggerDict.keys()]


class SafeAtoms(dict):
    """The access atoms a format reads: text values have '"' escaped; a
    missing atom is "-", and {name}i, {name}o and {key}e atoms are looked
    up in lower case."""

    def __init__(self, atoms):
        dict.__init__(self)
        for key, value in atoms.items():
            if isinstance(value, str):
                self[key] = value.replace('"', '\\"')
            else:
                self[key] = value

    def __getitem__(self, k):
        if k.startswith("{"):
            kl = k.lower()
            if kl in self:
                return super().__getitem__(kl)
            else:
                return "-"
        if k in self:
            return super().__getitem__(k)
        else:
            return '-'


class Logger:
    """Gunicorn's Logger: gunicorn.error and gunicorn.access set up as
    gowsgi sets them up, the error log methods, and access(), called once
    per request with objects shaped as Gunicorn's (resp, req, environ,
    request_time)."""

    LOG_LEVELS = {
        "critical": logging.CRITICAL,
        "error": logging.ERROR,
        "warning": logging.WARNING,
        "info": logging.INFO,
        "debug": logging.DEBUG,
    }
    loglevel = logging.INFO

    error_fmt = r"%(asctime)s [%(process)d] [%(levelname)s] %(message)s"
    datefmt = r"[%Y-%m-%d %H:%M:%S %z]"

    access_fmt = "%(message)s"
    syslog_fmt = "[%(process)d] %(message)s"

    atoms_wrapper_class = SafeAtoms

    def __init__(self, cfg):
        self.error_log = logging.getLogger("gunicorn.error")
        self.error_log.propagate = False
        self.access_log = logging.getLogger("gunicorn.access")
        self.access_log.propagate = False
        self.error_handlers = []
        self.access_handlers = []
        self.logfile = None
        self.lock = threading.Lock()
        self.cfg = cfg
        self.setup(cfg)

    def setup(self, cfg):
        """The error log into gowsgi's, at loglevel; the access lines to
        --access-logfile and syslog, formatted by access_fmt; then the
        logging configuration, as Gunicorn applies it."""
        self.loglevel = self.LOG_LEVELS.get(cfg.loglevel.lower(), logging.INFO)
        self.error_log.setLevel(self.loglevel)
        self.access_log.setLevel(logging.INFO)
        _backend.setup(self, cfg)

    def critical(self, msg, *args, **kwargs):
        self.error_log.critical(msg, *args, **kwargs)

    def error(self, msg, *args, **kwargs):
        self.error_log.error(msg, *args, **kwargs)

    def warning(self, msg, *args, **kwargs):
        self.error_log.warning(msg, *args, **kwargs)

    def info(self, msg, *args, **kwargs):
        self.error_log.info(msg, *args, **kwargs)

    def debug(self, msg, *args, **kwargs):
        self.error_log.debug(msg, *args, **kwargs)

    def exception(self, msg, *args, **kwargs):
        self.error_log.exception(msg, *args, **kwargs)

    def log(self, lvl, msg, *args, **kwargs):
        if isinstance(lvl, str):
            lvl = self.LOG_LEVELS.get(lvl.lower(), logging.INFO)
        self.error_log.log(lvl, msg, *args, **kwargs)

    def atoms(self, resp, req, environ, request_time):
        """The atoms of one request, computed from the objects as Gunicorn
        computes them, so that a class that passes changed ones (a
        redacted environ) logs what it changed."""
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        atoms = {
            'h': environ.get('REMOTE_ADDR', '-'),
            'l': '-',
            'u': self._get_user(environ) or '-',
            't': self.now(),
            'r': "%s %s %s" % (environ['REQUEST_METHOD'], environ['RAW_URI'], environ["SERVER_PROTOCOL"]),
            's': status,
            'm': environ.get('REQUEST_METHOD'),
            'U': environ.get('PATH_INFO'),
            'q': environ.get('QUERY_STRING'),
            'H': environ.get('SERVER_PROTOCOL'),
            'b': getattr(resp, 'sent', None) is not None and str(resp.sent) or '-',
            'B': getattr(resp, 'sent', None),
            'f': environ.get('HTTP_REFERER', '-'),
            'a': environ.get('HTTP_USER_AGENT', '-'),
            'T': request_time.seconds,
            'D': (request_time.seconds * 1000000) + request_time.microseconds,
            'M': (request_time.seconds * 1000) + int(request_time.microseconds / 1000),
            'L': "%d.%06d" % (request_time.seconds, request_time.microseconds),
            'p': "<%s>" % os.getpid(),
        }
        req_headers = req.headers if hasattr(req, 'headers') else req
        if hasattr(req_headers, "items"):
            req_headers = req_headers.items()
        atoms.update({"{%s}i" % k.lower(): v for k, v in req_headers})
        resp_headers = resp.headers
        if hasattr(resp_headers, "items"):
            resp_headers = resp_headers.items()
        atoms.update({"{%s}o" % k.lower(): v for k, v in resp_headers})
        atoms.update({"{%s}e" % k.lower(): v for k, v in environ.items()})
        return atoms

    def access(self, resp, req, environ, request_time):
        """One request's record on gunicorn.access: the access log format
        as the message, the atoms as its args."""
        if not logs_access(self.cfg):
            return
        safe_atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        try:
            self.access_log.info(self.cfg.access_log_format, safe_atoms)
        except Exception:
            self.error(traceback.format_exc())

    def _get_user(self, environ):
        """The user name of Basic authentication, None without one."""
        http_auth = environ.get("HTTP_AUTHORIZATION")
        if http_auth and http_auth.lower().startswith('basic'):
            auth = http_auth.split(" ", 1)
            if len(auth) == 2:
                try:
                    auth = base64.b64decode(auth[1].strip().encode('utf-8')).decode('utf-8').split(":", 1)
                except (TypeError, binascii.Error, UnicodeDecodeError) as exc:
                    self.debug("Couldn't get username: %s", exc)
                    return None
                if len(auth) == 2:
                    return auth[0]
        return None

    def now(self):
        """The time in Apache's Common Log Format."""
        return time.strftime('[%d/%b/%Y:%H:%M:%S %z]')

    def reopen_files(self):
        _backend.reopen()

    def close_on_exec(self):
        pass  # the worker opens no file a child it starts should keep

    def _get_gunicorn_handler(self, log):
        for h in log.handlers:
            if getattr(h, "_gunicorn", False):
                return h

    def _set_handler(self, log, output, fmt, stream=None):
        """Replaces log's handler of Gunicorn's own with one writing to
        output (stream for "-"), formatted by fmt: gowsgi's error log or
        access log where output and stream are theirs, else a stream or
        file handler, as Gunicorn's."""
        h = self._get_gunicorn_handler(log)
        if h:
            log.handlers.remove(h)
        if output is not None:
            h = _backend.handler(self, log, output, stream)
            h.setFormatter(fmt)
            h._gunicorn = True
            log.addHandler(h)

    def _set_syslog_handler(self, log, cfg, fmt, name):
        pass  # gowsgi sends the error log and the access lines to syslog itself (--log-syslog)

