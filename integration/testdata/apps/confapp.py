"""An app for the Python config file tests: it answers with the worker's
pid and the environment variables the tests set through raw_env."""
import os


def app(environ, start_response):
    body = "%d %s %s" % (os.getpid(), os.environ.get("CONF_GREETING", "-"), environ["wsgi.url_scheme"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
