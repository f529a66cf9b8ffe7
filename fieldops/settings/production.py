"""Production: secrets and hosts must come from the environment; HTTPS everywhere."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .env import env_bool, env_int, env_str

MSG_EMBEDDED = (
    "Set {names}: production runs on PostgreSQL (DATABASE_URL) and Redis (REDIS_URL). To run a"
    " single process on SQLite and the in-memory channel layer instead, set"
    " FIELDOPS_SINGLE_PROCESS=1 (docs/deployment.md)."
)

SECRET_KEY = env_str("SECRET_KEY")
# The example environment file's placeholder would sign every session with a published key.
if len(SECRET_KEY) < 50 or "CHANGE-ME" in SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be a random string of 50 characters or more.")
DEBUG = False
if not FIELD_ENCRYPTION_KEYS:  # noqa: F405
    raise ImproperlyConfigured("Set FIELD_ENCRYPTION_KEYS (comma-separated Fernet keys).")

# The embedded default (SQLite, the in-memory channel layer) serves one process: with two workers
# nothing written on one would reach the other's sockets. Production runs it only when asked to.
SINGLE_PROCESS = env_bool("FIELDOPS_SINGLE_PROCESS", False)
_embedded = [
    name
    for name, embedded in (
        ("DATABASE_URL", DATABASES["default"]["ENGINE"].endswith("sqlite3")),  # noqa: F405
        ("REDIS_URL", "InMemory" in CHANNEL_LAYERS["default"]["BACKEND"]),  # noqa: F405
    )
    if embedded
]
if _embedded and not SINGLE_PROCESS:
    raise ImproperlyConfigured(MSG_EMBEDDED.format(names=" and ".join(_embedded)))

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# Health checks reach each worker directly on 127.0.0.1 over plain HTTP, not through the proxy.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_REFERRER_POLICY = "same-origin"
# Browser sockets are accepted only from this origin (fieldops/asgi.py), so it must be the real one.
PUBLIC_URL = env_str("PUBLIC_URL").rstrip("/")
if not PUBLIC_URL.startswith("https://"):
    raise ImproperlyConfigured(
        f"PUBLIC_URL must be the public https:// address, not {PUBLIC_URL!r}."
    )
