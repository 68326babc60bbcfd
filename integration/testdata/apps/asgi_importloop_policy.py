"""asgi_importloop after a new event loop policy is installed, as
uvloop.install() at the top of an app module does: the loop the module
then asks for is the policy's, not the one the worker made."""
import asyncio

asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())

from asgi_importloop import app  # noqa: E402,F401
