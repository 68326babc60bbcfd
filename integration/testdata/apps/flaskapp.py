"""A Flask app for the framework tests (frameworks_test.go): routing,
JSON, a form POST, a file upload, a streamed response, and logging that
reaches the error log through wsgi.errors. Served through
wsgiref.validate with its warnings made errors."""
import hashlib
import warnings
import wsgiref.validate

from flask import Flask, Response, jsonify, request, stream_with_context

warnings.simplefilter("error", wsgiref.validate.WSGIWarning)

app = Flask(__name__)


@app.get("/hello/<name>")
def hello(name):
    return "Hello, %s!" % name


@app.get("/json")
def json_view():
    return jsonify(method=request.method, args=request.args.to_dict(), items=[1, 2, 3])


@app.post("/form")
def form():
    return "%s is %s" % (request.form["name"], request.form["age"])


@app.post("/upload")
def upload():
    f = request.files["file"]
    data = f.read()
    return jsonify(filename=f.filename, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                   note=request.form.get("note"))


@app.get("/stream")
def stream():
    n = request.args.get("n", 5, type=int)

    def generate():
        for i in range(n):
            yield "chunk %d of %s\n" % (i, request.args.get("tag", ""))
    return Response(stream_with_context(generate()), mimetype="text/plain")


@app.get("/warn")
def warn():
    app.logger.warning("flask says %s", request.args["tag"])
    return "warned"



def unwrap_input(wsgi_app):
    """Hands the app the server's wsgi.input instead of the validator's
    wrapper, which predates wsgi.input_terminated and asserts on the
    read() without a size that Werkzeug 3 makes when the server
    promises the stream ends at the end of the body."""
    def middleware(environ, start_response):
        environ["wsgi.input"] = environ["wsgi.input"].input
        return wsgi_app(environ, start_response)
    return middleware


application = wsgiref.validate.validator(unwrap_input(app))
