# Put before pyconfig.py and hooks.py (worker/gunicornmod.go): the
# gunicorn module as a config file sees it while it runs. Config files
# import it for its top-level names: to change the Server header
# (gunicorn.SERVER = "x") or the environ's SERVER_SOFTWARE, or to test
# the version. Where Gunicorn itself is not installed (a project that
# moved to gowsgi), a stand-in with those names takes its place, only
# while the file runs; Gunicorn's own modules (gunicorn.glogging...)
# are not in it.
import contextlib as _contextlib
import importlib.util as _importlib_util
import sys as _sys
import types as _types

# The Gunicorn whose settings gowsgi follows (docs/gunicorn.md).
_GUNICORN_VERSION = (26, 2, 2)


class _GunicornSubmodules:
    """A finder that says why gunicorn.glogging and the like do not
    import while the stand-in is there."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if fullname.startswith("gunicorn."):
            raise ModuleNotFoundError(
                "No module named %r: Gunicorn is not installed where gowsgi's Python looks, and gowsgi "
                "stands in only for the gunicorn module's SERVER, SERVER_SOFTWARE and version_info; "
                "install gunicorn there to import its modules" % fullname, name=fullname)
        return None


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


