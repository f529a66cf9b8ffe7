"""Embedded default: one process, SQLite, in-memory channel layer, debug on."""

from .base import *  # noqa: F403
from .env import env_bool, env_str

DEBUG = env_bool("DEBUG", True)
# Plain text on a developer's terminal; LOG_FORMAT=json shows what production prints.
LOG_FORMAT = env_str("LOG_FORMAT", "text")
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT  # noqa: F405
