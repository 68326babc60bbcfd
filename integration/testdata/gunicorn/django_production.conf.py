# A typical production gunicorn.conf.py for Django: the app preloaded
# in the master (here: gowsgi's zygote), and database connections closed
# after fork so no worker inherits a socket opened before it.
import os

wsgi_app = "djsite.wsgi:application"
bind = "127.0.0.1:8000"
workers = 2
preload_app = True
timeout = 120
raw_env = ["DJANGO_SETTINGS_MODULE=djsite.settings"]
accesslog = "-"


def post_fork(server, worker):
    from django.db import connections
    for conn in connections.all():
        conn.close()
    server.log.info("worker %s: database connections closed after fork", worker.pid)


def when_ready(server):
    server.log.info("django ready with %d workers", server.num_workers)
