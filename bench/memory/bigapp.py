"""The app of make bench-memory: its import builds ~50 MB of ordinary
Python objects (dicts, strs, ints, lists), as a large app's modules,
caches and tables do, and measures how much memory that took."""
import gc
import json
import os


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


_before = _rss()
TABLE = [
    {"id": i, "name": "item-%08d" % i, "tags": [i, i * 2, str(i)], "score": i / 7}
    for i in range(90_000)
]
INDEX = {row["name"]: row for row in TABLE}
# What the import added to the process, in bytes.
APP_BYTES = _rss() - _before


def app(environ, start_response):
    if environ["PATH_INFO"] == "/collect":
        gc.collect()
    body = json.dumps({"pid": os.getpid(), "app_bytes": APP_BYTES, "rows": len(TABLE)}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
