"""A formatter of the app's own, which a logging configuration names
(pylogging_test.go): it is importable only from the app's directory."""
import logging


class Shouting(logging.Formatter):
    def format(self, record):
        return "SHOUT " + super().format(record).upper()
