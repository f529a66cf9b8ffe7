"""Random secrets (device tokens, invite codes) and the only form in which they are stored.

The secrets carry 256 (tokens) or 80+ (codes) bits from `secrets`, so a plain SHA-256 is enough to
store them: a slow password hash protects guessable secrets, and these are not guessable.
"""

import hashlib
import secrets

from django.utils import timezone


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_invite_code() -> str:
    # Short enough to type from a printed sheet, long enough not to be guessed (~100 bits).
    return secrets.token_urlsafe(13)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_authenticate(raw: str, *, event_slug: str | None = None):
    """The (participant, token) for a bearer token, or None if unknown, revoked or not active.

    With `event_slug`, only a token of that event is accepted, and the participant comes without
    its event: a socket keeps the participant for as long as it is open.
    """
    from .models import DeviceToken

    if not raw or len(raw) > 200:
        return None
    tokens = DeviceToken.objects.filter(token_hash=digest(raw), revoked_at__isnull=True)
    if event_slug is None:
        tokens = tokens.select_related("participant", "participant__event")
    else:
        tokens = tokens.select_related("participant").filter(participant__event__slug=event_slug)
    token = tokens.first()
    if token is None or not token.participant.is_active:
        return None
    now = timezone.now()
    # Avoid a write per request: record use at most once a minute.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        DeviceToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.participant, token
