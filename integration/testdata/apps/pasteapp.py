"""A PasteDeploy app factory (paste_test.go): the [app:main] section's
settings and the global_conf reach it, and it logs with a module logger,
which the INI file's [loggers] configure."""
import json
import logging

log = logging.getLogger("pasteapp")


def make_app(global_conf, **settings):
    def app(environ, start_response):
        log.info("served %s", environ["PATH_INFO"])
        body = json.dumps({"settings": settings, "global": {k: v for k, v in global_conf.items()
                                                             if k not in ("__file__", "here")}}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    return app
