"""Keep-alive clients for integration/retire_test.go: THREADS threads,
each POSTing numbered bodies over one http.client connection (reopened
only when a response says Connection: close, or after a failure) until
STOPFILE exists. Prints one JSON summary: requests answered, connections
refused (nothing sent), and the failures: a request sent and not
answered completely with its own body."""
import http.client
import json
import os
import sys
import threading
import time

host, port, threads, stopfile, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
lock = threading.Lock()
summary = {"ok": 0, "refused": 0, "reconnects": 0, "failures": [], "answered": []}


def client(tid):
    conn = http.client.HTTPConnection(host, port, timeout=20)
    i = 0
    while not os.path.exists(stopfile):
        i += 1
        body = "%s-%d-%d-%s" % (prefix, tid, i, "x" * (i % 200))
        if conn.sock is None:
            try:
                conn.connect()
            except ConnectionRefusedError:
                with lock:
                    summary["refused"] += 1
                time.sleep(0.01)  # the server stopped: no busy loop
                continue
            with lock:
                summary["reconnects"] += 1
        try:
            conn.request("POST", "/record", body=body, headers={"Content-Type": "text/plain"})
            resp = conn.getresponse()
            data = resp.read().decode()
            if resp.status != 200 or data != body:
                raise ValueError("status %d body %r for %r" % (resp.status, data[:80], body[:80]))
            if resp.will_close:
                conn.close()
            with lock:
                summary["ok"] += 1
                summary["answered"].append(body)
        except Exception as e:  # a request sent and not answered
            conn.close()
            with lock:
                summary["failures"].append("%s: %s: %r" % (body[:40], type(e).__name__, e))
    conn.close()


ts = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
json.dump(summary, sys.stdout)
