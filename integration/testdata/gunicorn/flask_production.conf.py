# A typical production gunicorn.conf.py for a Flask app behind a proxy:
# sizes from the environment, threads, recycling, JSON-ish access log,
# and the hooks such deployments carry (timing in pre/post_request,
# resetting per-process state after fork, a log line per worker exit).
import multiprocessing
import os
import time

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("PYTHON_MAX_THREADS", 4))
timeout = 60
graceful_timeout = 30
keepalive = 5
max_requests = 1000
max_requests_jitter = 50
worker_tmp_dir = "/dev/shm"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(D)s'
capture_output = True


def post_fork(server, worker):
    # Per-process state must not be shared with the parent: here, a
    # connection pool stand-in.
    os.environ["POOL_OWNER"] = str(worker.pid)
    server.log.info("worker %s forked (age %s)", worker.pid, worker.age)


def pre_request(worker, req):
    req.start_time = time.monotonic()


def post_request(worker, req, environ, resp):
    ms = (time.monotonic() - req.start_time) * 1000
    worker.log.info("timing %s %s -> %s in %.1f ms", req.method, req.path, resp.status, ms)


def worker_exit(server, worker):
    server.log.info("worker %s exiting", worker.pid)
