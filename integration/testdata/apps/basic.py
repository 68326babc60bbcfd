"""Apps for the walking-skeleton integration tests."""
import os
import time


def hello(environ, start_response):
    body = b"Hello, World!"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def echo(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [body]


def pid(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]


def slow(environ, start_response):
    """Sleeps for ?seconds, after touching the file named by ?mark, so a
    test knows the request is in flight."""
    q = dict(p.split("=", 1) for p in environ["QUERY_STRING"].split("&") if "=" in p)
    if "mark" in q:
        open(q["mark"], "w").close()
    time.sleep(float(q.get("seconds", "1")))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"slept"]


def raises(environ, start_response):
    if environ["PATH_INFO"] == "/boom":
        raise ZeroDivisionError("deliberate failure for the test")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"fine"]


def make_app(greeting="factory"):
    """An app factory: `basic:make_app('hi')`."""
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [greeting.encode()]
    return app
