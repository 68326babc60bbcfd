"""The app of the per-CPython smoke tests (pythons_test.go): what the
embedded interpreter is, a streamed body, a pure-Python loop for
--request-timeout, a slow call for gowsgi stack, a call stuck in C with
the GIL held for --timeout, and the ways an app starts another Python."""
import concurrent.futures
import ctypes
import json
import multiprocessing
import os
import subprocess
import sys
import time


def _query(environ):
    return dict(p.split("=", 1) for p in environ["QUERY_STRING"].split("&") if "=" in p)


def _json(start_response, value):
    body = json.dumps(value).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def interpreter():
    """What a Python process says about itself; run in the worker and in
    the processes it starts."""
    return {"pid": os.getpid(), "version": sys.version, "executable": sys.executable,
            "base_executable": getattr(sys, "_base_executable", ""), "prefix": sys.prefix}


def stream(n):
    for i in range(n):
        yield b"chunk %d\n" % i


def app(environ, start_response):
    path = environ["PATH_INFO"]
    q = _query(environ)
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return stream(int(q.get("n", "5")))
    if path == "/loop":
        while True:  # LOOP-HERE
            pass
    if path == "/slow":
        # Waits, in Python, until the test removes the file it makes.
        open(q["mark"], "w").close()
        while os.path.exists(q["mark"]):
            time.sleep(0.01)  # SLOW-HERE
        return _json(start_response, "done")
    if path == "/stuck":
        ctypes.PyDLL(None).sleep(3600)  # STUCK-HERE
    if path == "/subprocess":
        out = subprocess.run([sys.executable, "-c", "import json, pythons; print(json.dumps(pythons.interpreter()))"],
                             capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, PYTHONPATH=os.getcwd()))
        if out.returncode != 0:
            raise RuntimeError("sys.executable failed: %s" % out.stderr)
        return _json(start_response, json.loads(out.stdout))
    if path == "/onlyhere":  # a module the test put in a venv's site-packages only
        import onlyhere
        return _json(start_response, dict(interpreter(), mark=onlyhere.MARK))
    if path in ("/spawn", "/forkserver"):
        ctx = multiprocessing.get_context(path[1:])
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
            return _json(start_response, pool.submit(interpreter).result(timeout=60))
    return _json(start_response, interpreter())
