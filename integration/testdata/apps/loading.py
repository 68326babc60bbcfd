"""Apps for the app-loading tests (loading_test.go)."""
import os


def application(environ, start_response):
    """What a bare module name means: module:application."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"module default"]


def factory(greeting, punct="!"):
    """loading:factory('hi', punct='?') with literal arguments."""
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [(greeting + punct).encode()]
    return app


def env(environ, start_response):
    """The worker's process environment and directory, as -e and --chdir set them."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s|%s" % (os.environ.get("GOWSGI_TEST_VALUE", "<unset>"), os.getcwd())).encode()]

