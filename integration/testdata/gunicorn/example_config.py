# Gunicorn's sample configuration (examples/example_config.py in
# benoitc/gunicorn), rewritten for the tests with the same settings and
# hooks: every value is the sample's, so gowsgi must accept the file
# as it is; the test's command line overrides the bind.

# Server socket
bind = '127.0.0.1:8000'
backlog = 2048

# Worker processes
workers = 1
worker_class = 'sync'
worker_connections = 1000
timeout = 30
keepalive = 2

# Debugging
spew = False

# Server mechanics
daemon = False
raw_env = [
    'DJANGO_SECRET_KEY=something',
    'SPAM=eggs',
]
pidfile = None
umask = 0
user = None
group = None
tmp_upload_dir = None

# Logging
errorlog = '-'
loglevel = 'info'
accesslog = '-'
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'

# Process naming
proc_name = None


# Server hooks
def post_fork(server, worker):
    server.log.info("Worker spawned (pid: %s)", worker.pid)


def pre_fork(server, worker):
    pass


def pre_exec(server):
    server.log.info("Forked child, re-executing.")


def when_ready(server):
    server.log.info("Server is ready. Spawning workers")


def worker_int(worker):
    worker.log.info("worker received INT or QUIT signal")
    # The sample logs the stack of every thread.
    import sys
    import threading
    import traceback
    names = {t.ident: t.name for t in threading.enumerate()}
    dump = []
    for ident, frame in sys._current_frames().items():
        dump.append("\n# Thread: %s(%d)" % (names.get(ident, ""), ident))
        for fs in traceback.extract_stack(frame):
            dump.append('File: "%s", line %d, in %s' % (fs.filename, fs.lineno, fs.name))
            if fs.line:
                dump.append("  %s" % fs.line.strip())
    worker.log.debug("\n".join(dump))


def worker_abort(worker):
    worker.log.info("worker received SIGABRT signal")
