"""App for the retirement tests (integration/retire_test.go): POST
bodies are appended, one per line, to the file named by $RETIRE_LOG, so
the test can count how many times the app saw each; the body is echoed.
Anything else answers "hello"."""
import os

_log = os.open(os.environ.get("RETIRE_LOG", os.devnull), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def app(environ, start_response):
    if environ["REQUEST_METHOD"] == "POST":
        n = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(n)
        os.write(_log, body + b"\n")  # one write(2) with O_APPEND: lines never interleave
    else:
        body = b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
