"""Answers a POSTed JSON list of names with the worker's os.environ
values for them (null when unset)."""
import json
import os


def app(environ, start_response):
    names = json.loads(environ["wsgi.input"].read())
    body = json.dumps({k: os.environ.get(k) for k in names}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
