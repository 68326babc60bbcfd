"""A Starlette app (Debian's python3-starlette), no FastAPI, for the ASGI
integration tests."""
import contextlib

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route


@contextlib.asynccontextmanager
async def lifespan(app):
    yield {"started": "yes"}


async def home(request):
    return PlainTextResponse("starlette home, started: " + request.state.started)


async def echo(request):
    data = await request.json()
    return JSONResponse({"you sent": data, "query": dict(request.query_params)})


async def where(request):
    return PlainTextResponse("%s %s %s %s" % (request.scope["root_path"], request.scope["path"], request.url,
                                              request.url_for("user", uid=7)))


async def user(request):
    return PlainTextResponse("user %d" % request.path_params["uid"])


app = Starlette(
    routes=[
        Route("/", home),
        Route("/echo", echo, methods=["POST"]),
        Route("/where", where),
        Mount("/users", routes=[Route("/{uid:int}", user, name="user")]),
    ],
    lifespan=lifespan,
)
