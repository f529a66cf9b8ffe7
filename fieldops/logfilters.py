"""Logging filters that keep secrets out of log lines."""

import logging
import re

_INVITE_PATH = re.compile(r"/join/[^/\s?]+")


def redact(text: str) -> str:
    """Replace invite codes in /join/<code>/ paths; a code in a log is a way in for whoever reads it."""
    return _INVITE_PATH.sub("/join/<code>", text)


class RedactInviteCodes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True
