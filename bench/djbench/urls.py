from django.http import JsonResponse
from django.urls import path


def json_view(request):
    return JsonResponse({"message": "Hello, World!"})


urlpatterns = [path("json", json_view)]
