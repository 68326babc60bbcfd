"""The app of integration/tls_test.go: what a TLS connection looks like
from inside the app."""

import json
import os

KEYS = ("wsgi.url_scheme", "HTTPS", "SSL_PROTOCOL", "SSL_CIPHER", "SSL_CLIENT_VERIFY",
        "SSL_CLIENT_S_DN", "SSL_CLIENT_I_DN", "SSL_CLIENT_SERIAL", "SERVER_PORT")


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/env":
        body = json.dumps({k: environ.get(k) for k in KEYS}).encode()
    elif path == "/pid":
        body = str(os.getpid()).encode()
    elif path == "/big":
        n = int(environ.get("QUERY_STRING") or 1 << 20)
        body = bytes(i % 251 for i in range(n))
    elif path == "/file":
        # A file region through wsgi.file_wrapper: sendfile(2) on plain
        # HTTP, a copy through TLS here.
        f = open(environ["QUERY_STRING"], "rb")
        size = os.fstat(f.fileno()).st_size
        start_response("200 OK", [("Content-Length", str(size))])
        return environ["wsgi.file_wrapper"](f)
    elif path == "/echo":
        body = environ["wsgi.input"].read()
    elif path == "/osenv":
        # The worker process's environment variable named by the query.
        body = repr(os.environ.get(environ["QUERY_STRING"])).encode()
    else:
        body = b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
