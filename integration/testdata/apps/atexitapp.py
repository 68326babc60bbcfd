"""An app that registers an atexit function, as telemetry libraries do
to flush what they buffered (atexit_test.go): it appends the worker's
pid to the file $ATEXIT_FILE. /thread starts a non-daemon thread that
finishes its work half a second later, as a queue-draining thread.
Each request prints a line, which with stdout a pipe and no
PYTHONUNBUFFERED waits in sys.stdout's buffer until the worker exits."""
import atexit
import os
import threading
import time


def _flush():
    with open(os.environ["ATEXIT_FILE"], "a") as f:
        f.write("flushed %d\n" % os.getpid())


atexit.register(_flush)


def _work():
    time.sleep(0.5)
    with open(os.environ["ATEXIT_FILE"], "a") as f:
        f.write("thread-done %d\n" % os.getpid())


def app(environ, start_response):
    print("printed by %d" % os.getpid())
    if environ["PATH_INFO"] == "/thread":
        threading.Thread(target=_work, daemon=False).start()
    start_response("200 OK", [("Content-Type", "text/plain")])
    if environ["PATH_INFO"] == "/pid":
        return [b"%d" % os.getpid()]
    return [b"ok\n"]
