"""An app whose import fails: the master must stop with exit code 4."""
import this_module_does_not_exist_gowsgi  # noqa: F401


def app(environ, start_response):
    start_response("200 OK", [])
    return [b""]
