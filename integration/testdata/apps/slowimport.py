"""An app whose import takes until $SLOW_IMPORT_GATE exists (at most 60
s), as a model loaded once under --preload does."""
import os
import time

_deadline = time.monotonic() + 60
while not os.path.exists(os.environ.get("SLOW_IMPORT_GATE", "/")) and time.monotonic() < _deadline:
    time.sleep(0.05)


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
