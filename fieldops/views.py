"""Plain endpoints outside the pages and the API."""

from django.http import HttpRequest, HttpResponse


def health(request: HttpRequest) -> HttpResponse:
    """For load balancers and the tests: answers while the worker serves."""
    return HttpResponse("ok", content_type="text/plain")
