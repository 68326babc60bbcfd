"""An app for the StatsD tests: / answers 200, /status/NNN answers NNN,
/boom raises (500 and a traceback in the error log)."""


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise ZeroDivisionError("deliberate failure for the StatsD test")
    status = "200 OK"
    if path.startswith("/status/"):
        status = path[len("/status/"):] + " Chosen"
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
