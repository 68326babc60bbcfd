"""The app behind the deployment tests (nginx, Apache, uwsgi, Procfile,
systemd): one WSGI callable routing on PATH_INFO, so a front end mounted
anywhere reaches every route."""
import hashlib
import json
import os
import time

ENVIRON_KEYS = (
    "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH",
    "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "REMOTE_PORT", "RAW_URI",
    "REQUEST_URI", "HTTPS", "SERVER_SOFTWARE", "wsgi.url_scheme",
)


def _json(start_response, obj):
    body = json.dumps(obj, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def environ_view(environ, start_response):
    """The CGI keys, every HTTP_* and UWSGI_* key, and the cwd, as JSON
    (latin-1 strings: PEP 3333 native strings carry bytes)."""
    out = {k: environ[k] for k in ENVIRON_KEYS if k in environ}
    out.update({k: v for k, v in environ.items() if k.startswith(("HTTP_", "UWSGI_", "uwsgi_"))})
    out["cwd"] = os.getcwd()
    out["pid"] = os.getpid()
    return _json(start_response, out)


def upload(environ, start_response):
    """Reads the whole body and reports its length and SHA-256."""
    data = environ["wsgi.input"].read()
    return _json(start_response, {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()})


def stream(environ, start_response):
    """Sends ?n chunks without a Content-Length, ?gap seconds apart, each
    line saying when it was produced, so a client can tell a streamed
    response from a buffered one."""
    q = dict(p.split("=", 1) for p in environ["QUERY_STRING"].split("&") if "=" in p)
    n, gap = int(q.get("n", "3")), float(q.get("gap", "0"))
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Accel-Buffering", "no")])
    for i in range(n):
        if i:
            time.sleep(gap)
        yield ("chunk %d %.3f\n" % (i, time.time())).encode()


def slow(environ, start_response):
    q = dict(p.split("=", 1) for p in environ["QUERY_STRING"].split("&") if "=" in p)
    time.sleep(float(q.get("seconds", "0.2")))
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


ROUTES = {"/environ": environ_view, "/upload": upload, "/stream": stream, "/slow": slow}


def app(environ, start_response):
    handler = ROUTES.get(environ["PATH_INFO"])
    if handler is None:
        body = b"no route for " + environ["PATH_INFO"].encode("latin-1")
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    return handler(environ, start_response)
