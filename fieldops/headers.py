"""Response headers that protect the pages: the Content-Security-Policy's per-request origins, and
no caching of the pages that identify someone.

The policy itself is `CONTENT_SECURITY_POLICY` in settings (django-csp); the Permissions-Policy is
django-permissions-policy's. docs/deployment.md says what each allows and why.
"""

from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers
from django.utils.deprecation import MiddlewareMixin

# The pages that say who someone is at an event, or carry a way in: a shared or seized phone's
# browser cache, or a proxy's, must not keep them.
ROLE_PAGES = frozenset(
    {"event-home", "invite-new", "join", "cases", "case", "export-page", "report"}
)


def tile_origin(url: str) -> str:
    """The origin of a Leaflet tile URL template, `{s}` subdomains as a wildcard; "" for none."""
    parts = urlsplit(url.replace("{s}", "*"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def socket_origin(url: str) -> str:
    """The WebSocket origin of the public address (wss:// for https://)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"


class PageCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, with the origins that settings may change at run time: the map
    tiles' (only when configured) and the public address's sockets. Browsers that predate CSP 3
    do not count wss: of the page's own host as 'self'."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponse, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        update = dict(parts.update or {})
        for name, origin in [
            ("img-src", tile_origin(settings.MAP_TILES_URL)),
            ("connect-src", socket_origin(settings.PUBLIC_URL)),
        ]:
            if origin:
                update[name] = [*update.get(name, ()), origin]
        parts.update = update
        return parts


class NoStoreRolePagesMiddleware(MiddlewareMixin):
    """`Cache-Control: no-store` (Django's never-cache set) on every role, join and invite page."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        match = request.resolver_match
        if match is not None and match.url_name in ROLE_PAGES:
            add_never_cache_headers(response)
        return response
