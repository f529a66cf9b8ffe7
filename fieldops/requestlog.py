"""Every HTTP request gets a random id that its log lines carry (docs/deployment.md, "Log format")."""

import re

from . import logcontext

REQUEST_ID_HEADER = "X-Request-ID"
# An event's slug as the URL names it; any other text in its place is the client's, not logged.
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,64}")


class RequestContext:
    """Give the request a new id (an id a client sends is ignored: it could make lines of other
    requests look like its own, or carry text into the log), note the event a view's URL names, and
    return the id in the `X-Request-ID` header, so that a reported failure can be found in the log.

    Outermost, so every other middleware's lines carry the id. Under ASGI each request runs in a
    task and context of its own, and Django's "Not Found" line, written after the middleware
    returns, still carries it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = logcontext.new_id()
        logcontext.request_id.set(request_id)
        logcontext.socket_id.set(None)
        logcontext.event.set(None)
        logcontext.verb.set(None)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        slug = view_kwargs.get("slug")
        if isinstance(slug, str) and _SLUG.fullmatch(slug):
            logcontext.event.set(slug)
