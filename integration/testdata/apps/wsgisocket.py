"""A Flask app with WebSockets as Flask-Sock serves them under Gunicorn's
threaded worker: simple-websocket over environ["gunicorn.socket"] (written
here with wsproto, which simple-websocket is built on). The view answers
the upgrade on the socket itself, a thread of its own reads the socket,
and the response raises StopIteration so that the server writes nothing.
For wsgi_socket_test.go; MARKS is a directory where a session writes how
it ended."""
import os
import threading
import time

from flask import Flask, Response, request, stream_with_context
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (AcceptConnection, BytesMessage, CloseConnection,
                            Ping, Request, TextMessage)

app = Flask(__name__)


class Session:
    """simple-websocket's Server: the handshake comes from the environ,
    a reader thread feeds received messages to receive()."""

    def __init__(self, environ):
        self.sock = environ["gunicorn.socket"]
        self.ws = WSConnection(ConnectionType.SERVER)
        self.lock = threading.Lock()  # wsproto is not thread-safe
        self.cond = threading.Condition()
        self.inbox, self.parts = [], []
        self.open, self.ended = True, None
        head = "GET %s HTTP/1.1\r\n" % environ["PATH_INFO"]
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                head += "%s: %s\r\n" % (key[5:].replace("_", "-"), value)
        self.feed((head + "\r\n").encode("latin-1"))  # answers 101
        threading.Thread(target=self.read, daemon=True).start()

    def feed(self, data):
        ended = None
        with self.lock:
            self.ws.receive_data(data)
            out = b""
            for ev in self.ws.events():
                if isinstance(ev, Request):
                    out += self.ws.send(AcceptConnection())
                elif isinstance(ev, (TextMessage, BytesMessage)):
                    self.parts.append(ev.data)
                    if ev.message_finished:
                        msg = ("" if isinstance(ev, TextMessage) else b"").join(self.parts)
                        self.parts = []
                        with self.cond:
                            self.inbox.append(msg)
                            self.cond.notify()
                elif isinstance(ev, Ping):
                    out += self.ws.send(ev.response())
                elif isinstance(ev, CloseConnection):
                    if self.ws.state == ConnectionState.REMOTE_CLOSING:
                        out += self.ws.send(ev.response())
                    ended = "close %d" % ev.code
            if out:
                self.sock.sendall(out)
        if ended:  # after the answer to the client's Close went out
            self.end(ended)

    def read(self):
        while self.open:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                self.end("eof")
                return
            self.feed(data)

    def end(self, how):
        with self.cond:
            if self.ended is None:
                self.ended = how
            self.open = False
            self.cond.notify()

    def receive(self):
        with self.cond:
            while self.open and not self.inbox:
                self.cond.wait()
            return self.inbox.pop(0) if self.inbox else None

    def send(self, msg):
        ev = TextMessage(data=msg) if isinstance(msg, str) else BytesMessage(data=msg)
        with self.lock:
            self.sock.sendall(self.ws.send(ev))

    def close(self, code):
        with self.lock:
            try:
                self.sock.sendall(self.ws.send(CloseConnection(code=code)))
            except Exception:
                pass  # the peer's Close came first, or it is gone


def mark(name, text):
    with open(os.path.join(os.environ["MARKS"], name), "w") as f:
        f.write(text)


class Taken(Response):
    """Flask-Sock's response after a session: under Gunicorn it raises
    StopIteration, which closes the connection with nothing written."""

    exc = StopIteration

    def __call__(self, environ, start_response):
        raise self.exc()


@app.route("/plain")
def plain():
    return "socket offered: %r" % ("gunicorn.socket" in request.environ)


@app.route("/ws", websocket=True)  # as Flask-Sock routes it
def echo():
    ws = Session(request.environ)
    while True:
        msg = ws.receive()
        if msg is None:
            break
        if msg == "bye":
            ws.close(1000)
            break
        ws.send("echo: " + msg if isinstance(msg, str) else msg[::-1])
    if ws.ended == "eof":
        ws.close(1001)  # going away: the server stops
    with ws.cond:  # the reader's end, after our Close: the client's answer
        while ws.ended is None:
            ws.cond.wait()
    mark("ended", ws.ended)
    return Taken()


@app.route("/ws-raise", websocket=True)
def raises():
    ws = Session(request.environ)
    ws.send("echo: %s" % ws.receive())
    ws.receive()  # until the client closes
    resp = Taken()
    resp.exc = lambda: RuntimeError("after the session")
    return resp


@app.route("/ws-stream", websocket=True)
def stream():
    # Answers the upgrade request without the socket, with a response
    # whose second block takes SLEEP seconds.
    def blocks():
        yield "first\n"
        time.sleep(float(request.args.get("sleep", "0")))
        yield "second\n"
    return Response(stream_with_context(blocks()))


@app.route("/ws-refuse", websocket=True)
def refuse():
    return Response("no WebSocket here", status=426)
