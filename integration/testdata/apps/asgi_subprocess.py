"""An ASGI app that runs a subprocess on its event loop, as apps shell
out with asyncio.create_subprocess_exec: uvloop learns that the child
ended through the SIGCHLD handler it installs."""
import asyncio

from asgi_lifespan_ok import lifespan


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    proc = await asyncio.create_subprocess_exec("sh", "-c", "sleep 0.1; echo hi", stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 10)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": out + b"rc=%d" % proc.returncode})
