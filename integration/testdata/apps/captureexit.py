"""An app whose last output comes as its worker exits (logging_test.go,
TestCaptureOutputKeepsTheLastLines): an atexit line, then a line
without its newline; and one such line per request."""
import atexit
import sys


def _bye():
    print("atexit line")
    sys.stdout.write("partial at exit")


atexit.register(_bye)


def app(environ, start_response):
    sys.stdout.write("no newline from %s" % environ["PATH_INFO"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
