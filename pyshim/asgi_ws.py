# The WebSocket side of _gowsgi_asgi: this source runs after asgi.py's,
# in the same module (asgi.go).


def subprotocols(headers):
    """A WebSocket scope's "subprotocols": the Sec-WebSocket-Protocol
    values, in order (RFC 6455 section 4.1)."""
    protocols = []
    for name, value in headers:
        if name == b"sec-websocket-protocol":
            protocols += [p.strip() for p in value.decode("latin-1").split(",") if p.strip()]
    return protocols


# WebSocket states
WS_CONNECTING, WS_ACCEPTED, WS_CLOSED, WS_DENYING, WS_DENIED = range(5)


class WSCycle(Cycle):
    """One WebSocket (ASGI WebSocket spec 2.4). Go does the framing, the
    handshake answer, ping/pong and close frames; this side sees
    messages."""

    __slots__ = ("state", "connected_sent", "close_code")

    def __init__(self, rt, cid, scope, budget):
        super().__init__(rt, cid, scope, budget)
        self.state = WS_CONNECTING
        self.connected_sent = False
        self.close_code = 1005

    async def receive(self):
        if not self.connected_sent:
            self.connected_sent = True
            return {"type": "websocket.connect"}
        if self.gone and not self.events:
            return {"type": "websocket.disconnect", "code": self.close_code, "reason": ""}
        kind, flags, code, data = await self.next_event()
        if kind == IN_DISCONNECT:
            self.close_code = code or 1005
            self.gone = True
            reason = data.decode("utf-8", "replace") if data else ""
            return {"type": "websocket.disconnect", "code": self.close_code, "reason": reason}
        if flags & IF_TEXT:
            return {"type": "websocket.receive", "text": data.decode("utf-8")}
        return {"type": "websocket.receive", "bytes": data}

    async def send(self, msg):
        t = msg["type"]
        if self.gone or self.state in (WS_CLOSED, WS_DENIED):
            raise ClientDisconnected("the WebSocket is closed")
        if t == "websocket.accept":
            if self.state != WS_CONNECTING:
                raise ProtocolError("websocket.accept sent twice or after a denial began")
            self.state = WS_ACCEPTED
            sub = msg.get("subprotocol")
            if self.out(OUT_WS_ACCEPT, 0, header_pairs(msg.get("headers", ())), None, 0, sub):
                await self.room()
        elif t == "websocket.send":
            if self.state != WS_ACCEPTED:
                raise ProtocolError("websocket.send sent before websocket.accept")
            text, data = msg.get("text"), msg.get("bytes")
            if (text is None) == (data is None):
                raise ProtocolError("websocket.send needs exactly one of bytes and text")
            if text is not None:
                if self.out(OUT_WS_SEND, 0, None, text.encode("utf-8"), F_TEXT, None):
                    await self.room()
            else:
                if self.out(OUT_WS_SEND, 0, None, data, 0, None):
                    await self.room()
        elif t == "websocket.close":
            if self.state == WS_DENYING:
                raise ProtocolError("websocket.close sent during a websocket.http.response")
            code = msg.get("code", 1000)
            if type(code) is not int or not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
                # RFC 6455 §7.4: the codes an endpoint may send (websocket/frame.go ValidOnWire).
                raise ProtocolError("websocket.close code must be 1000-1003, 1007-1014 or 3000-4999, not %r" % (code,))
            reason = msg.get("reason") or ""
            if type(reason) is not str or len(reason.encode("utf-8")) > 123:
                # RFC 6455 §5.5: a control frame carries at most 125 bytes, the code's two included.
                raise ProtocolError("websocket.close reason must be a str of at most 123 bytes in UTF-8, not %s"
                                    % (len(reason.encode("utf-8")) if type(reason) is str else type(reason).__name__,))
            self.state = WS_CLOSED
            if self.out(OUT_WS_CLOSE, int(code), None, None, 0, reason):
                await self.room()
        elif t == "websocket.http.response.start":
            if self.state != WS_CONNECTING:
                raise ProtocolError("websocket.http.response.start sent after websocket.accept")
            status = msg["status"]
            if type(status) is not int or not 100 <= status <= 999:
                raise ProtocolError("websocket.http.response.start status must be an int of three digits, not %r" % (status,))
            queued = self.out(OUT_START, status, header_pairs(msg.get("headers", ())), None, 0, None)
            self.state = WS_DENYING  # once the headers were taken, as for HTTP
            if queued:
                await self.room()
        elif t == "websocket.http.response.body":
            if self.state != WS_DENYING:
                raise ProtocolError("websocket.http.response.body sent before websocket.http.response.start")
            more = bool(msg.get("more_body", False))
            if not more:
                self.state = WS_DENIED
            if self.out(OUT_BODY, 0, None, msg.get("body", b""), F_MORE if more else 0, None):
                await self.room()
        else:
            raise ProtocolError("unexpected ASGI message type %r on a WebSocket" % (t,))

    async def run(self):
        REQUEST.set(self.cid)
        exc = None
        try:
            await self.rt.app(self.scope, self.receive, self.send)
            if self.state == WS_DENYING:
                exc = ProtocolError("the ASGI app returned during a websocket.http.response")
        except BaseException as e:
            exc = e
        self.finish(self.state, exc)
