# Put before pyconfig.py, hooks.py and pylogging.py (worker/gunicornmod.go):
# the gunicorn module as a config file sees it while it runs, and the
# config file loaded once in a worker. Config files import it for its
# top-level names: to change the Server header (gunicorn.SERVER = "x")
# or the environ's SERVER_SOFTWARE, or to test the version; and for
# gunicorn.glogging, to subclass its Logger (logger_class). Where
# Gunicorn itself is not installed (a project that moved to gowsgi), a
# stand-in with those names takes its place, only while the file runs;
# Gunicorn's other modules are not in it.
import contextlib as _contextlib
import importlib as _importlib
import importlib.machinery as _importlib_machinery
import importlib.util as _importlib_util
import os as _os
import sys as _sys
import types as _types

# The Gunicorn whose settings gowsgi follows (docs/gunicorn.md).
_GUNICORN_VERSION = (26, 2, 2)


def glogging_module():
    """gowsgi's gunicorn.glogging (glogging.py), made once per process."""
    mod = _sys.modules.get("gunicorn.glogging")
    if getattr(mod, "_gowsgi", False):
        return mod
    mod = _types.ModuleType("gunicorn.glogging", "gowsgi's stand-in for Gunicorn's logger module")
    mod._gowsgi = True
    exec(compile(_GLOGGING_SOURCE, "<gowsgi: gunicorn/glogging.py>", "exec"), mod.__dict__)
    _sys.modules["gunicorn.glogging"] = mod
    return mod


def use_glogging():
    """Makes gunicorn.glogging gowsgi's in this process, also where
    Gunicorn is installed (a worker with a logger class: the logs it
    sets up are gowsgi's); returns it."""
    mod = glogging_module()
    try:
        package = _importlib.import_module("gunicorn")
    except ImportError:
        return mod  # the stand-in serves it, while a file runs
    package.glogging = mod
    return mod


class _GunicornSubmodules:
    """A finder that serves gunicorn.glogging, and says why Gunicorn's
    other modules do not import, while the stand-in is there."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if fullname == "gunicorn.glogging":
            return _importlib_util.spec_from_loader(fullname, _GloggingLoader)
        if fullname.startswith("gunicorn."):
            raise ModuleNotFoundError(
                "No module named %r: Gunicorn is not installed where gowsgi's Python looks, and gowsgi "
                "stands in only for the gunicorn module's SERVER, SERVER_SOFTWARE and version_info and "
                "for gunicorn.glogging; install gunicorn there to import its modules" % fullname,
                name=fullname)
        return None


class _GloggingLoader:
    @staticmethod
    def create_module(spec):
        return glogging_module()

    @staticmethod
    def exec_module(module):
        pass


@_contextlib.contextmanager
def gunicorn_module():
    if "gunicorn" in _sys.modules or _importlib_util.find_spec("gunicorn") is not None:
        yield
        return
    mod = _types.ModuleType("gunicorn", "gowsgi's stand-in for Gunicorn's top-level names, "
                            "while a config file runs")
    mod.__path__ = []  # a package, so that its submodules reach the finder
    mod.version_info = _GUNICORN_VERSION
    mod.__version__ = ".".join(str(v) for v in _GUNICORN_VERSION)
    mod.SERVER = "gunicorn"
    mod.SERVER_SOFTWARE = "gunicorn/" + mod.__version__
    if "gunicorn.glogging" in _sys.modules:  # made already (a worker): the import system will not set it
        mod.glogging = _sys.modules["gunicorn.glogging"]
    _sys.modules["gunicorn"] = mod
    _sys.meta_path.insert(0, _GunicornSubmodules)
    try:
        yield
    finally:
        if _sys.modules.get("gunicorn") is mod:
            del _sys.modules["gunicorn"]
        if _GunicornSubmodules in _sys.meta_path:
            _sys.meta_path.remove(_GunicornSubmodules)


def gunicorn_changes():
    """What the config file set gunicorn.SERVER (the Server header since
    Gunicorn 20.1) and gunicorn.SERVER_SOFTWARE (the environ's) to, of
    those it changed to a str."""
    mod = _sys.modules.get("gunicorn")
    if mod is None:
        return {}
    version = getattr(mod, "__version__", "")
    changes = {}
    for name, default in (("SERVER", "gunicorn"), ("SERVER_SOFTWARE", "gunicorn/" + version)):
        value = getattr(mod, name, default)
        if isinstance(value, str) and value != default:
            changes[name] = value
    return changes


class Setting:
    """An item of cfg.settings, as hooks that read .value expect."""

    def __init__(self, name, value):
        self.name, self.value = name, value

    def get(self):
        return self.value


class GunicornConfig:
    """Gunicorn's cfg, as hooks (hooks.py) and a logger class
    (pylogging.py) get it: every resolved setting under Gunicorn's name
    and with Gunicorn's type (durations in seconds)."""

    def __init__(self, values):
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "settings", {k: Setting(k, v) for k, v in values.items()})

    def __getattr__(self, name):
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise AttributeError("No configuration setting for: %s" % name)

    def __setattr__(self, name, value):
        raise AttributeError("Invalid access!")

    @property
    def env(self):
        return dict(e.split("=", 1) for e in self._values.get("raw_env", []) if "=" in e)

    @property
    def worker_class_str(self):
        return self._values.get("worker_class", "sync")

    @property
    def address(self):
        return [_parse_address(b) for b in self._values.get("bind", [])]

    def set(self, name, value):
        raise AttributeError("cfg.set has no effect in gowsgi: the master resolves the settings; "
                             "change the config file and send HUP")


def _parse_address(bind):
    """Gunicorn's util.parse_address of one of gowsgi's canonical binds
    (HOST:PORT, [IPV6]:PORT, unix:PATH, fd://N): (host, port), a unix
    socket's path, or a file descriptor number."""
    if bind.startswith("unix:"):
        return bind[len("unix:"):]
    if bind.startswith("fd://"):
        return int(bind[len("fd://"):])
    host, _, port = bind.rpartition(":")
    return host.strip("[]").lower(), int(port)



def load_config(spec):
    """The config file spec's module, executed as Gunicorn's master does,
    once per worker: the logger class and the hooks take what they need
    from it. A file runs as the module __config__, so a class it defines
    is __config__.NAME."""
    if spec.startswith("python:"):
        return _importlib.import_module(spec[len("python:"):])
    mod = _sys.modules.get("__config__")
    if mod is not None:
        return mod
    path = spec[len("file:"):] if spec.startswith("file:") else spec
    loader = None
    if _os.path.splitext(path)[1] not in (".py", ".pyc"):
        loader = _importlib_machinery.SourceFileLoader("__config__", path)
    mspec = _importlib_util.spec_from_file_location("__config__", path, loader=loader)
    mod = _importlib_util.module_from_spec(mspec)
    _sys.modules["__config__"] = mod
    try:
        mspec.loader.exec_module(mod)
    except BaseException:
        del _sys.modules["__config__"]
        raise
    return mod
