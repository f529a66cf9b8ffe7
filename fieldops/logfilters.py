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


class QuietBrokerOutage(logging.Filter):
    """channels_redis logs a traceback every second while Redis is down ("Unexpected exception in
    receive task"). The outage is expected and handled (workers deliver from the journal): keep one
    line a minute, without the traceback, so the log stays readable during one."""

    EVERY_SECONDS = 60.0
    _last = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if (
            not isinstance(exc, (ConnectionError, OSError))
            and "Connection" not in type(exc).__name__
        ):
            return True
        if record.created - QuietBrokerOutage._last < self.EVERY_SECONDS:
            return False
        QuietBrokerOutage._last = record.created
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.msg, record.args = "Redis connection lost (%s); retrying", (type(exc).__name__,)
        record.exc_info = record.exc_text = None
        return True
