"""gowsgi: a pre-fork WSGI HTTP server in Go that embeds this CPython.

The server is the gowsgi command that pip installed next to this
package (the environment's bin/); python -m gowsgi runs it.
"""
import importlib.metadata
import os
import sysconfig


def executable():
    """The path of the gowsgi command installed with this package."""
    try:
        files = importlib.metadata.files("gowsgi") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for f in files:  # RECORD names it relative to site-packages: ../../../bin/gowsgi
        if f.name == "gowsgi" and f.parent.name in ("bin", "Scripts"):
            path = os.path.normpath(f.locate())
            if os.access(path, os.X_OK):
                return path
    path = os.path.join(sysconfig.get_path("scripts"), "gowsgi")
    if os.access(path, os.X_OK):
        return path
    raise SystemExit("gowsgi: the gowsgi command is not installed with this package; "
                     "install it with: pip install --no-build-isolation PATH-TO-GOWSGI-CHECKOUT")
