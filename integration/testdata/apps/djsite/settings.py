"""A minimal Django project for the framework tests: the admin, a form
with CSRF protection, and static files served through
wsgi.file_wrapper."""
import os
import tempfile

import django

SECRET_KEY = "gowsgi-integration-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "djsite.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": os.path.join(os.environ.get("DJSITE_DB_DIR", tempfile.gettempdir()), "djsite.sqlite3"),
}}
USE_TZ = True
STATIC_URL = "/static/"
# The admin's own static files, served by django.views.static.serve.
STATIC_ROOT = os.path.join(os.path.dirname(django.__file__), "contrib", "admin", "static")
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
