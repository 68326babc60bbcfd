"""Apps for the logging, proxy and process-setting tests."""
import os
import sys


def peer(environ, start_response):
    """Reports what the server says about the client and the connection."""
    body = "{} {} {}".format(environ["REMOTE_ADDR"], environ.get("REMOTE_PORT", "-"),
                             environ["wsgi.url_scheme"]).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Served-By", "peer-app")])
    return [body]


def ids(environ, start_response):
    """Reports who the worker runs as."""
    groups = ",".join(str(g) for g in sorted(os.getgroups()))
    body = "{} {} {}".format(os.getuid(), os.getgid(), groups).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def talk(environ, start_response):
    """Writes a line to stdout and one to stderr, as an app's print() and
    logging do."""
    print("hello from stdout", environ["PATH_INFO"])
    sys.stderr.write("warning from stderr\n")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"talked"]


def sized(environ, start_response):
    """Answers ?n= bytes, without Content-Length (chunked), for access-log
    byte counts."""
    n = int(environ["QUERY_STRING"].partition("n=")[2] or "0")
    start_response("201 Created", [("Content-Type", "application/x-test"), ("X-Trace", "t-42")])
    return [b"x" * (n // 2), b"y" * (n - n // 2)]
