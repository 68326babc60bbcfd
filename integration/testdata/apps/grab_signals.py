"""An app that takes SIGTERM and SIGINT at import, as some libraries do:
gowsgi must restore its own handlers and still stop on TERM."""
import signal

signal.signal(signal.SIGTERM, lambda signum, frame: None)
signal.signal(signal.SIGINT, signal.SIG_IGN)


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"still mine"]
