"""A Django project for `make bench` (the django workload): one JSON view
behind the middleware stack `django-admin startproject` generates."""
