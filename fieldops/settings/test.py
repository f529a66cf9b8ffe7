"""Tests: fast hashing, no tiles, a fixed encryption key."""

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
FIELD_ENCRYPTION_KEYS = ["k3Ct2Qq7p5mJxZ9b1lHrV0dWfYtA8sGnEoUiK4cR6w0="]
MAP_TILES_URL = ""
LEAFLET_CONFIG["TILES"] = []  # noqa: F405
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Tests run the overdue/reminder sweeps themselves, never in the background.
# An in-process test's event loop ends with the test: a hub keeps no event once its sockets close.
FIELDOPS = {**FIELDOPS, "WATCH_EMBEDDED": False, "FEED_LINGER_SECONDS": 0}  # noqa: F405
