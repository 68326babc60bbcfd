"""For --response-header (Uvicorn's --header): a WSGI app that sets its
own X-Frame-Options when asked (?own=1)."""


def app(environ, start_response):
    headers = [("Content-Type", "text/plain")]
    if "own=1" in environ["QUERY_STRING"]:
        headers.append(("X-Frame-Options", "SAMEORIGIN"))
    start_response("200 OK", headers)
    return [b"ok"]
