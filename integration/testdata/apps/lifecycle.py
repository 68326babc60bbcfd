"""Apps for the lifecycle (signals and supervision) integration tests."""
import ctypes
import os
import subprocess
import threading
import time

# A PyDLL call does not release the GIL. Made ready at import, so that
# /stuck is at its stuck line a few bytecodes after the app is called.
_libc = ctypes.PyDLL(None)
_read = _libc.read
# Nobody writes to this pipe: a read from it blocks for good. A read is
# restarted after a signal handler (Go installs its handlers with
# SA_RESTART), where sleep(3) returns early when a signal lands on its
# thread (the master's SIGABRT can: it is sent to the process).
_never, _ = os.pipe()


def _query(environ):
    return dict(p.split("=", 1) for p in environ["QUERY_STRING"].split("&") if "=" in p)


def app(environ, start_response):
    """Answers with the worker's pid after sleeping ?ms milliseconds, and
    with ?gate=PATH once PATH exists; /stuck never answers."""
    if environ["PATH_INFO"] == "/stuck":
        return stuck(environ, start_response)
    if environ["PATH_INFO"] == "/orphan":
        return orphan(environ, start_response)
    if environ["PATH_INFO"] == "/hold-gil":
        return hold_gil(environ, start_response)
    if environ["PATH_INFO"] == "/segv":
        return segv()
    q = _query(environ)
    if "mark" in q:
        open(q["mark"], "w").close()
    ms = int(q.get("ms", "0"))
    if ms:
        time.sleep(ms / 1000)
    if "gate" in q:
        deadline = time.monotonic() + 60
        while not os.path.exists(q["gate"]) and time.monotonic() < deadline:
            time.sleep(0.01)
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def stuck(environ, start_response):
    """Blocks in C while holding the GIL: a PyDLL call does not release
    it, so no other Python thread of this worker runs."""
    _read(_never, ctypes.create_string_buffer(1), 1)  # STUCK-HERE
    start_response("200 OK", [])
    return [b"unreachable"]


def hold_gil(environ, start_response):
    """Starts a thread that, once a byte arrives on the FIFO ?fifo, takes
    the GIL and keeps it, blocked in read(2) on a pipe nobody writes to;
    answers with that thread's native id and the pipe's descriptor, so
    that the caller can see it blocked there (/proc/PID/task/TID/syscall).
    The FIFO lets this request end before the GIL is taken."""
    fifo = _query(environ)["fifo"]

    def hold():
        with open(fifo, "rb") as f:
            f.read(1)
        _read(_never, ctypes.create_string_buffer(1), 1)  # GIL-HELD-HERE

    t = threading.Thread(target=hold, daemon=True)
    t.start()
    body = f"{t.native_id} {_never}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def orphan(environ, start_response):
    """Leaves a process behind whose parent exits at once, as daemonizing
    helpers do; answers with its pid."""
    out = subprocess.check_output(["sh", "-c", "sleep 0.5 >/dev/null 2>&1 & echo $!"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [out.strip()]


def segv():
    """Crashes in C code, as a broken extension module does."""
    ctypes.string_at(0)  # SEGV-HERE
