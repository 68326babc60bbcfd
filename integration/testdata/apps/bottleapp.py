"""Bottle (Debian's python3-bottle), unchanged. Bottle decodes a chunked
body itself when the environ says HTTP_TRANSFER_ENCODING: chunked, so a
server that hands it the body already decoded must not say so."""
import hashlib

import bottle

app = bottle.Bottle()


@app.post("/digest")
def digest():
    data = bottle.request.body.read()
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "chunked": bottle.request.chunked}
