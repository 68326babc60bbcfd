"""Answers the CPU scheduling policy of the thread running the app and of
a thread the app starts: "3 3" under SCHED_BATCH, "0 0" under SCHED_OTHER."""

import os
import threading


def app(environ, start_response):
    seen = []
    t = threading.Thread(target=lambda: seen.append(os.sched_getscheduler(0)))
    t.start()
    t.join()
    body = f"{os.sched_getscheduler(0)} {seen[0]}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
