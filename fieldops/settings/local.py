"""Embedded default: one process, SQLite, in-memory channel layer, debug on."""

from .base import *  # noqa: F403
from .env import env_bool

DEBUG = env_bool("DEBUG", True)
