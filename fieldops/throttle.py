"""REST rate limits, counted with django-ratelimit in Django's cache (docs/protocol.md, "Rate
limits"): every authenticated request against its credential's budget, and every /api/join
against its client address's, so invite codes cannot be guessed at speed.
"""

import ipaddress

from django.conf import settings
from django_ratelimit.core import get_usage

from fieldops import errors

MSG_SLOW_DOWN = "Too many requests; wait a moment and try again."
MSG_JOIN_SLOW_DOWN = "Too many attempts to join from this address; wait a minute."


class Throttled(errors.ActionError):
    def __init__(self, message: str, retry_after: int):
        super().__init__(errors.RATE_LIMITED, message)
        self.retry_after = max(1, retry_after)


def client_address(request) -> str:
    """The client's address: the peer's, or, when the peer is a trusted reverse proxy, the one
    the proxy appended last to X-Forwarded-For (earlier entries are the client's own claims)."""
    peer = request.META.get("REMOTE_ADDR") or "0.0.0.0"  # noqa: S104 - a unix socket's peer
    limits = settings.FIELDOPS_REST_LIMITS
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if peer in limits["TRUSTED_PROXIES"] and forwarded:
        last = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            return peer
    return peer


def _spend(request, *, group: str, key, per_minute: int, message: str) -> None:
    usage = get_usage(
        request, group=group, key=key, rate=f"{per_minute}/m", method=get_usage.ALL, increment=True
    )
    if usage is not None and usage["should_limit"]:
        raise Throttled(message, usage["time_left"])


def credential_throttle(request, *, participant) -> None:
    """Count one request against the bearer token (or the browser's participant) making it."""
    token_id = getattr(request, "fieldops_token_id", None)
    credential = f"token:{token_id}" if token_id else f"participant:{participant.pk}"
    _spend(
        request,
        group="fieldops.rest",
        key=lambda group, request: credential,
        per_minute=settings.FIELDOPS_REST_LIMITS["PER_CREDENTIAL_PER_MINUTE"],
        message=MSG_SLOW_DOWN,
    )


def join_throttle(request) -> None:
    """Count one attempt to redeem an invite code against the client's address (IPv6: its /64)."""
    _spend(
        request,
        group="fieldops.join",
        key="ip",
        per_minute=settings.FIELDOPS_REST_LIMITS["JOIN_PER_ADDRESS_PER_MINUTE"],
        message=MSG_JOIN_SLOW_DOWN,
    )
