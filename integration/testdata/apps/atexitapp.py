"""An app that registers an atexit function, as telemetry libraries do
to flush what they buffered (atexit_test.go): it appends the worker's
pid to the file $ATEXIT_FILE."""
import atexit
import os


def _flush():
    with open(os.environ["ATEXIT_FILE"], "a") as f:
        f.write("flushed %d\n" % os.getpid())


atexit.register(_flush)


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]
