"""Imports a module that only the test's virtualenv has, and reports
whether the base interpreter's packages (Flask) leak into it."""
import importlib.util
import sys

import venv_only_module


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    flask = importlib.util.find_spec("flask") is not None
    return [("%s|%s|flask=%s" % (sys.prefix, venv_only_module.VALUE, flask)).encode()]
