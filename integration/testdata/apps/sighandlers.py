"""A Python signal handler as apps install one at import
(signals_test.go): a handler of SIGTERM that notes itself in $SIG_FILE
and chains to the one it replaces."""
import os
import signal


def _note(text):
    with open(os.environ["SIG_FILE"], "a") as f:
        f.write("%s %d\n" % (text, os.getpid()))


_prev = signal.getsignal(signal.SIGTERM)
_note("import-prev-callable=%s" % callable(_prev))


def _on_term(signum, frame):
    _note("term-handler")
    if callable(_prev):
        _prev(signum, frame)


signal.signal(signal.SIGTERM, _on_term)


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]
