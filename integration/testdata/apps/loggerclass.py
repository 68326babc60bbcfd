"""Logger classes as Gunicorn configs write them (loggerclass_test.go),
subclasses of gunicorn.glogging.Logger: Gunicorn's own module under
Gunicorn, gowsgi's under gowsgi."""
import logging

from gunicorn import glogging


class HealthCheckFilter(logging.Filter):
    """Drops the access records of health checks, the most common reason
    for a logger class."""

    def filter(self, record):
        return "/health" not in record.getMessage()


class HealthFilteringLogger(glogging.Logger):
    def setup(self, cfg):
        super().setup(cfg)
        self.access_log.addFilter(HealthCheckFilter())
        self.info("the base class is gowsgi's: %s", getattr(glogging, "_gowsgi", False))


class AtomsLogger(glogging.Logger):
    """Adds atoms that access_log_format reads."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["{route}c"] = environ["PATH_INFO"].upper()
        atoms["n"] = dict(req.headers)["USER-AGENT"].upper()
        return atoms


class AccessLogger(glogging.Logger):
    """Logs each request its own way, from Gunicorn's objects."""

    def access(self, resp, req, environ, request_time):
        headers = dict(req.headers)
        self.access_log.info(
            "ACC custom method=%s path=%s query=%s version=%s status=%r sent=%s length=%s out=%s "
            "remote=%s agent=%s scheme=%s elapsed=%s",
            req.method, req.path, req.query, req.version, resp.status, resp.sent, resp.response_length,
            sorted(resp.headers), environ["REMOTE_ADDR"], headers.get("USER-AGENT"),
            environ["wsgi.url_scheme"], request_time.total_seconds() < 10)


class PrefixLogger(glogging.Logger):
    """Only the format of the access handler's records changes."""

    access_fmt = "ACC prefixed %(message)s"


class BrokenLogger(glogging.Logger):
    def setup(self, cfg):
        raise RuntimeError("the logging backend is unreachable")
