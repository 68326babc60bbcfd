"""Apps for the lifecycle (signals and supervision) integration tests."""
import ctypes
import os
import subprocess
import time


def _query(environ):
    return dict(p.split("=", 1) for p in environ["QUERY_STRING"].split("&") if "=" in p)


def app(environ, start_response):
    """Answers with the worker's pid after sleeping ?ms milliseconds;
    /stuck never answers."""
    if environ["PATH_INFO"] == "/stuck":
        return stuck(environ, start_response)
    if environ["PATH_INFO"] == "/orphan":
        return orphan(environ, start_response)
    q = _query(environ)
    if "mark" in q:
        open(q["mark"], "w").close()
    ms = int(q.get("ms", "0"))
    if ms:
        time.sleep(ms / 1000)
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def stuck(environ, start_response):
    """Blocks in C while holding the GIL: a PyDLL call does not release
    it, so no other Python thread of this worker runs."""
    libc = ctypes.PyDLL(None)
    libc.sleep(3600)  # STUCK-HERE
    start_response("200 OK", [])
    return [b"unreachable"]


def orphan(environ, start_response):
    """Leaves a process behind whose parent exits at once, as daemonizing
    helpers do; answers with its pid."""
    out = subprocess.check_output(["sh", "-c", "sleep 0.5 >/dev/null 2>&1 & echo $!"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [out.strip()]
