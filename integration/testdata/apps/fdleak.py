"""An app that leaks file descriptors (limits_test.go): GET /hog opens
/dev/null until the worker has none left and keeps them all. With
?seconds=N its response is streamed: the count first, then the end N
seconds later, so the request stays in flight meanwhile."""
import os
import time

held = []


def app(environ, start_response):
    if environ["PATH_INFO"] != "/hog":
        body = b"ok %d" % os.getpid()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    try:
        while True:
            held.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        pass
    body = b"%d held" % len(held)
    q = environ["QUERY_STRING"]
    if not q.startswith("seconds="):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    start_response("200 OK", [("Content-Type", "text/plain")])

    def stream():
        yield body
        time.sleep(float(q[len("seconds="):]))
        yield b" and done"
    return stream()
