"""An app that leaks file descriptors (accept_test.go): GET /hog opens
/dev/null until the worker has none left and keeps them all."""
import os

held = []


def app(environ, start_response):
    if environ["PATH_INFO"] == "/hog":
        try:
            while True:
                held.append(os.open("/dev/null", os.O_RDONLY))
        except OSError:
            pass
        body = b"%d held" % len(held)
    else:
        body = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
