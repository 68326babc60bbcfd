"""A project's own worker class, as paperless-ngx and the projects that
follow Uvicorn's advice write one (workerclass_test.go): a subclass of
Uvicorn's Gunicorn worker whose CONFIG_KWARGS set what its command line
cannot."""
from uvicorn.workers import UvicornWorker


class ConfigurableWorker(UvicornWorker):
    CONFIG_KWARGS = {
        "root_path": "/mounted",
        "proxy_headers": True,
        "forwarded_allow_ips": "*",
    }


async def app(scope, receive, send):
    """Answers with what the scope says of the mount and the client."""
    if scope["type"] != "http":
        return
    body = ("root_path=%s client=%s\n" % (scope.get("root_path"), scope["client"][0])).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
