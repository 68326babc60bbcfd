"""The project behind wsgiref.validate, warnings made errors. (Static
files are served without it: the validator's iterator wrapper would
hide the file_wrapper from the server.)"""
import warnings
import wsgiref.validate

from .wsgi import application as _application

warnings.simplefilter("error", wsgiref.validate.WSGIWarning)

application = wsgiref.validate.validator(_application)
