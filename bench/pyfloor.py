"""The Python floor of a workload: its app called in a loop, in-process.

What a WSGI server cannot go below for a Python workload is the app's
own work: calling it with an environ, iterating its result and closing
it. This measures that, with no server, no socket and no HTTP, as CPU
time per call, for comparison with a server's CPU per request (as
bench/floor, the Go canned responder, is the floor for the wire).

    python3 bench/pyfloor.py [-n CALLS] [-r REPEATS] APP...   # plain interpreter
    GET /?app=APP&n=CALLS&r=REPEATS on ``apps:pyfloor``       # inside a server

The second form runs the same loop inside a server's worker (gowsgi's,
so on the interpreter build it embeds), and answers one line per app.
Each app is warmed up first (Flask builds itself on its first request),
then timed ``r`` times over ``n`` calls; the median is reported, in
microseconds of process CPU (``time.process_time``: every thread, so a
server's own threads count too) per call.

The environ is the one a server builds for wrk's ``GET`` (a Host header
and nothing else), copied for every call because apps write into it.
"""

import io
import sys
import time

import apps

# The URL path each workload's app is benchmarked at (peers.sh's URLPATH).
PATHS = {"flask_app": "/json", "django_app": "/json"}


def environ_for(path):
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "18100",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "HTTP_HOST": "127.0.0.1:18100",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "SERVER_SOFTWARE": "gowsgi",
    }


def _start_response(status, headers, exc_info=None):
    return None


def call_once(app, template):
    env = dict(template)
    env["wsgi.input"] = io.BytesIO(b"")
    result = app(env, _start_response)
    try:
        for block in result:
            pass
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()


def measure(name, n=5000, repeats=5, template=None):
    """Median CPU µs per call of apps.<name> over `repeats` loops of n
    calls, with environ_for's environ or a copy of `template`."""
    app = getattr(apps, name)
    if template is None:
        template = environ_for(PATHS.get(name, "/"))
    else:
        template = dict(template, PATH_INFO=PATHS.get(name, "/"), QUERY_STRING="")
        template.pop("wsgi.input", None)
    for _ in range(min(n, 500)):  # warm-up: lazy imports, caches
        call_once(app, template)
    per_call = []
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(n):
            call_once(app, template)
        per_call.append((time.process_time() - t0) / n * 1e6)
    per_call.sort()
    return per_call[len(per_call) // 2], per_call


def pyfloor(environ, start_response):
    """WSGI app: runs measure() in this worker; ?app=A&app=B&n=N&r=R, and
    &env=server to call the apps with a copy of this request's environ
    (the server's own environ types) instead of environ_for's."""
    from urllib.parse import parse_qs

    q = parse_qs(environ.get("QUERY_STRING", ""))
    n = int(q.get("n", ["5000"])[0])
    r = int(q.get("r", ["5"])[0])
    lines = []
    template = environ if q.get("env", [""])[0] == "server" else None
    for name in q.get("app", ["hello"]):
        m, all_ = measure(name, n, r, template)
        lines.append(f"{name}\t{m:.2f}\t{' '.join(f'{x:.2f}' for x in all_)}\n")
    body = "".join(lines).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def main(argv):
    import argparse

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-n", type=int, default=5000, help="calls per timed loop")
    p.add_argument("-r", type=int, default=5, help="timed loops (the median is reported)")
    p.add_argument("apps", nargs="+")
    a = p.parse_args(argv)
    for name in a.apps:
        m, all_ = measure(name, a.n, a.r)
        print(f"{name}\t{m:.2f}\t{' '.join(f'{x:.2f}' for x in all_)}")


if __name__ == "__main__":
    main(sys.argv[1:])
