from django.contrib import admin
from django.http import HttpResponse
from django.template import engines
from django.urls import path, re_path
from django.views.static import serve

from . import settings

FORM = engines["django"].from_string(
    '<form method="post">{% csrf_token %}<input name="name"></form>')


def form(request):
    if request.method == "POST":
        return HttpResponse("thanks, %s" % request.POST["name"], content_type="text/plain")
    return HttpResponse(FORM.render({}, request))


urlpatterns = [
    path("admin/", admin.site.urls),
    path("form/", form),
    re_path(r"^static/(?P<path>.*)$", serve, {"document_root": settings.STATIC_ROOT}),
]
