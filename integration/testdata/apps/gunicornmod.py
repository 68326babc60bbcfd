"""For gunicornmod_test.go: what the app sees after a config file set
gunicorn.SERVER_SOFTWARE, and whether a gunicorn module is left in
sys.modules for it."""
import json
import sys


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"server_software": environ["SERVER_SOFTWARE"],
                        "gunicorn_imported": "gunicorn" in sys.modules}).encode()]
