"""Settings shared by every environment; everything variable comes from env.py."""

from pathlib import Path

import dj_database_url

from .env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env_str("SECRET_KEY", "insecure-local-only-key-change-me-0123456789abcdefghijklmnop")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    # Serves the API docs' Swagger UI from our own static files, not a CDN (the pages' CSP allows
    # scripts from this site only, and no request leaves for a third party).
    "ninja",
    "leaflet",
    "djgeojson",
    "fieldops",
    "marshals",
    "realtime",
]

MIDDLEWARE = [
    # A random id per request, carried by its log lines (docs/deployment.md, "Log format").
    "fieldops.requestlog.RequestContext",
    "fieldops.connections.ReleaseDatabaseConnection",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Page safety headers (see the block "Page safety headers" below).
    "fieldops.headers.PageCSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "fieldops.headers.NoStoreRolePagesMiddleware",
]

ROOT_URLCONF = "fieldops.urls"
ASGI_APPLICATION = "fieldops.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'fieldops.sqlite3'}"),
        # Kept open: a worker's database thread would otherwise connect and disconnect for every
        # action a socket sends (channels closes connections after each database trip unless they
        # may live on); health checks replace a connection the server dropped.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several workers may share one SQLite file in tests: wait for the write lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis' pub/sub layer, receiving without polling (realtime/layer.py).
            "BACKEND": "realtime.layer.PubSubLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    # The default capacity (100 messages per channel) silently drops a burst that arrives while a
    # socket waits for the shared database thread; the pub/sub layer's local queues are unbounded.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 5000},
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Where `collectstatic` writes and the workers serve from (WhiteNoise).
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "/admin/login/"

# --- Retention: how long credentials and sessions live (docs/deployment.md) -----------------------
# Device tokens and browser sessions stop working this many hours after their event ends: time for a
# march that overruns and a night of jail support, and well before the retention purge.
CREDENTIAL_GRACE_HOURS = env_int("FIELDOPS_CREDENTIAL_GRACE_HOURS", 12)
# A join link's session expires with its event (plus the grace: marshals/sessions.py); any other
# session, an admin's, after this many seconds (Django's default is two weeks).
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600)
# --- end of retention ---------------------------------------------------------------------------

# Personal data at rest (arrest records) is encrypted with these Fernet keys; the first encrypts,
# all decrypt, so a key can be rotated by putting the new one first.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", "")

# The basemap: a PMTiles archive the workers serve themselves (fieldops/tiles.py), so the pages ask
# nobody else; or, failing that, a tile server the operator chooses. Neither: no tile layer at all.
MAP_TILES_ARCHIVE = env_str("MAP_TILES_ARCHIVE", "")
MAP_TILES_URL = env_str("MAP_TILES_URL", "")
MAP_TILES_ATTRIBUTION = env_str("MAP_TILES_ATTRIBUTION", "")
LEAFLET_CONFIG = {
    "DEFAULT_CENTER": (40.4168, -3.7038),
    "DEFAULT_ZOOM": 14,
    "TILES": [("Map", MAP_TILES_URL, {"attribution": MAP_TILES_ATTRIBUTION})]
    if MAP_TILES_URL
    else [],
    "NO_GLOBALS": False,
    "RESET_VIEW": False,
}

# The public address printed in invite links.
PUBLIC_URL = env_str("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

# --- Web Push (fieldops/services/push.py; docs/deployment.md, "Web Push") -------------------------
# The VAPID key that signs every push: a P-256 private key, base64url (`manage.py vapid_key` makes
# one). Empty: nothing is pushed and the pages offer no notifications.
VAPID_PRIVATE_KEY = env_str("VAPID_PRIVATE_KEY", "")
# Who runs this server, told to the push services: a mailto: or https: address (empty: PUBLIC_URL).
VAPID_SUBJECT = env_str("VAPID_SUBJECT", "")
# The only places a subscription's endpoint may point to, so a subscription cannot make the server
# send requests anywhere else: host names, on https and its default port ("*." matches any
# subdomain), or whole origins ("https://push.example.org:8443").
PUSH_SERVICE_HOSTS = env_list(
    "PUSH_SERVICE_HOSTS",
    "fcm.googleapis.com,updates.push.services.mozilla.com,*.push.apple.com,web.push.apple.com,"
    "*.notify.windows.com",
)
# How long one request to a push service may take to connect, and to answer; the threads that
# send to one push service (each service has its own, so a slow one delays no other); how often
# each process looks for entries to push when no entry written by itself woke it.
PUSH_TIMEOUT_SECONDS = env_float("PUSH_TIMEOUT_SECONDS", 5.0)
PUSH_THREADS_PER_SERVICE = env_int("PUSH_THREADS_PER_SERVICE", 8)
PUSH_POLL_SECONDS = env_float("PUSH_POLL_SECONDS", 2.0)
# --- end of Web Push ------------------------------------------------------------------------------

FIELDOPS = {
    "MAX_FRAME_BYTES": 16 * 1024,
    "REPLAY_BATCH": 500,
    "REPLAY_BATCH_BYTES": 256 * 1024,
    # Delivery (docs/protocol.md): how often each worker compares what it delivered with the
    # journal and repairs what it missed, and how long it keeps an event's subscription after its
    # last socket there closed (a reconnect storm re-subscribes nothing).
    "REPAIR_INTERVAL_SECONDS": env_float("FIELDOPS_REPAIR_INTERVAL_SECONDS", 1.0),
    "FEED_LINGER_SECONDS": env_float("FIELDOPS_FEED_LINGER_SECONDS", 60.0),
    # What one socket may hold beyond the server's own buffer before it counts as not reading and
    # is closed with 4408, and how long it may take nothing at all.
    "SOCKET_BACKLOG_ENTRIES": env_int("FIELDOPS_SOCKET_BACKLOG_ENTRIES", 1000),
    "SOCKET_BACKLOG_BYTES": env_int("FIELDOPS_SOCKET_BACKLOG_BYTES", 1024 * 1024),
    "SOCKET_STALL_SECONDS": env_float("FIELDOPS_SOCKET_STALL_SECONDS", 30.0),
    # Sockets one device token (or one browser's participant) may hold open on one worker.
    "MAX_SOCKETS_PER_CREDENTIAL": env_int("FIELDOPS_MAX_SOCKETS_PER_CREDENTIAL", 8),
    "RATE_LIMIT_PER_MINUTE": env_int("FIELDOPS_RATE_LIMIT_PER_MINUTE", 120),
    # Field safety (docs/safety.md). The check-in interval itself is per event.
    "OVERDUE_GRACE_SECONDS": env_int("FIELDOPS_OVERDUE_GRACE_SECONDS", 30),
    "SOS_RADIUS_METERS": env_int("FIELDOPS_SOS_RADIUS_METERS", 500),
    # With no marshal within the radius, this many of the nearest are told all the same.
    "SOS_NEAREST_MARSHALS": env_int("FIELDOPS_SOS_NEAREST_MARSHALS", 2),
    # A recipient's last position older than this is flagged `stale` in their sos.nearby.
    "SOS_STALE_SECONDS": env_int("FIELDOPS_SOS_STALE_SECONDS", 600),
    "OFF_ROUTE_METERS": env_int("FIELDOPS_OFF_ROUTE_METERS", 150),
    "ROUTE_ACK_REMINDER_SECONDS": env_int("FIELDOPS_ROUTE_ACK_REMINDER_SECONDS", 300),
    "WATCH_INTERVAL_SECONDS": env_int("FIELDOPS_WATCH_INTERVAL_SECONDS", 15),
    # Marches overrun: the watch keeps an event until an organizer ends it (`event.end`), but
    # stops this many hours after its scheduled end all the same.
    "WATCH_OVERRUN_HOURS": env_int("FIELDOPS_WATCH_OVERRUN_HOURS", 6),
    "WATCH_EMBEDDED": env_bool("FIELDOPS_WATCH_EMBEDDED", True),
    # Each worker writes who has a socket open on it, and when each was last heard, this often
    # (one batch, never a write per frame; fieldops/services/presence.py).
    "PRESENCE_FLUSH_SECONDS": env_int("FIELDOPS_PRESENCE_FLUSH_SECONDS", 10),
    # A check-in waits this long (milliseconds) for others to share its transaction and commit
    # (realtime/gather.py; docs/performance.md): a commit costs more than a check-in's own rows.
    "CHECKIN_GATHER_MS": env_float("FIELDOPS_CHECKIN_GATHER_MS", 20.0),
    # How many ASGI workers the deployment runs (the fieldops@ units, nginx's upstream servers):
    # more than one needs REDIS_URL, or entries never cross between them (`check` warns).
    "WORKERS": env_int("FIELDOPS_WORKERS", 1),
}

# --- REST rate limits (django-ratelimit; docs/protocol.md, "Rate limits") -------------------------
# Counted in each worker's memory (N workers allow at most N budgets): Redis carries fan-out only
# and is never on a request's path, so a broker outage cannot refuse or slow a request.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "ratelimit": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "fieldops-ratelimit",
    },
}
RATELIMIT_USE_CACHE = "ratelimit"
RATELIMIT_IP_META_KEY = "fieldops.throttle.client_address"
FIELDOPS_REST_LIMITS = {
    # Requests per minute one bearer token (or one browser's participant) may make; by default the
    # same budget as a socket's frames.
    "PER_CREDENTIAL_PER_MINUTE": env_int(
        "FIELDOPS_REST_RATE_PER_MINUTE", FIELDOPS["RATE_LIMIT_PER_MINUTE"]
    ),
    # Opening or redeeming an invite code, per client address (an IPv6 /64) and minute. A crowd's
    # phones share a few carrier-grade NAT addresses, and a marchers' link is opened by hundreds
    # at once; a code has about 100 random bits, so even this rate guesses nothing.
    "JOIN_PER_ADDRESS_PER_MINUTE": env_int("FIELDOPS_JOIN_RATE_PER_MINUTE", 300),
    # Peers whose X-Forwarded-For names the client: the reverse proxy in front of the workers.
    "TRUSTED_PROXIES": env_list("FIELDOPS_TRUSTED_PROXIES", "127.0.0.1,::1"),
}
# --- end of REST rate limits ----------------------------------------------------------------------

# --- Page safety headers (django-csp, django-permissions-policy; docs/deployment.md) --------------
# Scripts, styles and images only from this server: no inline script, handler or style, so text
# that reached a page as HTML still cannot run. fieldops.headers adds the map tiles' origin (when
# MAP_TILES_URL is set) and the public address's sockets to this at run time.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "connect-src": ["'self'"],
        # The event's service worker and web app manifest (fieldops/offline.py), from here only.
        "worker-src": ["'self'"],
        "manifest-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# The pages use the phone's position (marshals, legal observers, the marchers' nearest help); no
# page, and nothing embedded in one, may use any other sensor or device.
PERMISSIONS_POLICY = {"geolocation": "self"} | {
    feature: []
    for feature in [
        # Features Chromium knows (it warns about any other name).
        "accelerometer", "autoplay", "browsing-topics", "camera", "clipboard-read",
        "clipboard-write", "display-capture", "encrypted-media", "fullscreen", "gamepad",
        "gyroscope", "hid", "idle-detection", "local-fonts", "magnetometer", "microphone", "midi",
        "otp-credentials", "payment", "picture-in-picture", "publickey-credentials-create",
        "publickey-credentials-get", "screen-wake-lock", "serial", "usb", "window-management",
        "xr-spatial-tracking",
    ]
}  # fmt: skip
# --- end of page safety headers -------------------------------------------------------------------

# The bearer token Prometheus sends to each worker's /metrics (docs/deployment.md, "Metrics");
# empty: the endpoint does not exist (404).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")

# One JSON object per line (`json`, the default) or plain text (`text`, what `make run` uses):
# docs/deployment.md, "Log format". Either way through the one handler and its redaction.
LOG_FORMAT = env_str("LOG_FORMAT", "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "fieldops.logformat.JsonFormatter"},
        "text": {"()": "fieldops.logformat.TextFormatter"},
    },
    "filters": {
        "redact": {"()": "fieldops.logfilters.RedactSecrets"},
        "context": {"()": "fieldops.logcontext.ContextFilter"},
        "broker": {"()": "fieldops.logfilters.QuietBrokerOutage"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["redact", "context"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # daphne logs every request line, and query strings may hold codes: keep it to warnings.
        "daphne": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
        # "Not Found: /join/<code>/" for an expired or used-up invite would log the code.
        "django.request": {"filters": ["redact"]},
        # Django's own handlers print without redaction (its console when DEBUG is on) or mail the
        # whole request (mail_admins): everything of Django's goes through the console above.
        "django": {"handlers": [], "propagate": True},
        # uvicorn logs each socket with the client's address at INFO, through its own handler:
        # keep it to warnings, whatever its --log-level, redacted like the rest.
        "uvicorn": {"handlers": [], "level": "WARNING", "propagate": True},
        "uvicorn.error": {"level": "WARNING"},
        "channels_redis.pubsub": {"filters": ["broker"]},
        # urllib3 logs each request's path at DEBUG, and a push endpoint's path names a browser.
        "urllib3": {"level": "WARNING"},
    },
}
