"""One JSON shape for every REST refusal, `{"code", "message", "fields"}`, whatever refused: a
service, the schema, authentication, a rate limit, Django reading the request, an unknown address,
or a bug (docs/protocol.md, "Errors").
"""

import functools
import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, JsonResponse
from django.urls import re_path
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from fieldops import errors

log = logging.getLogger(__name__)

STATUS = {
    errors.INVALID: 400,
    errors.UNAUTHENTICATED: 401,
    errors.FORBIDDEN: 403,
    errors.NOT_FOUND: 404,
    errors.METHOD_NOT_ALLOWED: 405,
    errors.TOO_LARGE: 413,
    errors.RATE_LIMITED: 429,
    errors.INTERNAL: 500,
    errors.UNAVAILABLE: 503,
}
CODE_OF_STATUS = {status: code for code, status in STATUS.items()}

MSG_NOT_JSON = "The body is not valid JSON."
MSG_UNAUTHENTICATED = "Send a valid bearer token, or open your invite link first."
MSG_NOT_FOUND = "There is nothing at this address."
MSG_METHOD = "This address does not take this method."
MSG_TOO_LARGE = "The body is too large."
MSG_FIELDS = "Some fields are not valid."
# Where django-ninja says a parameter came from: a body key, a query or path parameter is named
# alone (`lat`, `since`); a header keeps its prefix (`header.Idempotency-Key`).
SOURCES = {"body", "payload", "query", "path"}


def refusal(error: errors.ActionError) -> JsonResponse:
    body = {"code": error.code, "message": error.message, "fields": error.fields}
    response = JsonResponse(body, status=STATUS.get(error.code, 400))
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _on_action_error(request, exc: errors.ActionError):
    return refusal(exc)


def _on_http_error(request, exc: HttpError):
    if isinstance(exc, AuthenticationError):
        return refusal(errors.ActionError(errors.UNAUTHENTICATED, MSG_UNAUTHENTICATED))
    if exc.status_code == 400:  # django-ninja's only 400: a body it could not parse
        return refusal(errors.ActionError.field("body", MSG_NOT_JSON))
    code = CODE_OF_STATUS.get(exc.status_code, errors.INVALID)
    response = refusal(errors.ActionError(code, str(exc)))
    response.status_code = exc.status_code
    return response


def _on_validation_error(request, exc: NinjaValidationError):
    fields = []
    for error in exc.errors:
        location = [str(p) for p in error.get("loc", ()) if p not in SOURCES]
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        fields.append({"field": ".".join(location) or "body", "message": message})
    return refusal(errors.ActionError(errors.INVALID, MSG_FIELDS, fields))


def _on_not_found(request, exc: Http404):
    return refusal(errors.ActionError(errors.NOT_FOUND, MSG_NOT_FOUND))


def _on_exception(request, exc: Exception):
    if isinstance(exc, RequestDataTooBig):
        return refusal(errors.ActionError(errors.TOO_LARGE, MSG_TOO_LARGE))
    if isinstance(exc, SuspiciousOperation):
        return refusal(errors.ActionError.field("body", str(exc) or MSG_FIELDS))
    error = errors.error_for(exc, field="body")
    if error.code == errors.INTERNAL:
        # The path names the operation; the body may hold personal data and is never logged.
        log.exception("%s %s failed", request.method, request.path)
    elif error.code == errors.UNAVAILABLE:
        log.warning("%s %s: database unavailable (%s)", request.method, request.path, exc)
    return refusal(error)


def _json_refusals(view):
    """Outside an operation (the API's root, a method an address does not take) django-ninja
    leaves the answer to Django, as HTML: give it the shape."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return _nothing_here(request)
        if response.status_code == 405 and response.get("Content-Type", "").startswith("text/html"):
            allow = response.get("Allow")
            response = refusal(errors.ActionError(errors.METHOD_NOT_ALLOWED, MSG_METHOD))
            if allow:
                response["Allow"] = allow
        return response

    return wrapped


def _nothing_here(request, *args, **kwargs):
    return refusal(errors.ActionError(errors.NOT_FOUND, MSG_NOT_FOUND))


class FieldopsAPI(NinjaAPI):
    """django-ninja with every refusal, including those Django makes, in the one shape."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_exception_handler(errors.ActionError, _on_action_error)
        self.add_exception_handler(HttpError, _on_http_error)
        self.add_exception_handler(NinjaValidationError, _on_validation_error)
        self.add_exception_handler(Http404, _on_not_found)
        self.add_exception_handler(Exception, _on_exception)

    @property
    def urls(self):
        patterns, app_name, namespace = super().urls
        for pattern in patterns:
            pattern.callback = _json_refusals(pattern.callback)
        # Any other address under /api/ is a JSON 404 too, not the site's HTML page.
        return [*patterns, re_path(r"", _nothing_here)], app_name, namespace
