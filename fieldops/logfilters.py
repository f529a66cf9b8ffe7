"""Logging filters that keep secrets out of log lines."""

import logging
import re

_INVITE_PATH = re.compile(r"/join/[^/\s?'\"]+")
# A header printed in an error ("Authorization: Bearer ...", a request's repr); tokens never
# appear anywhere else, since they never travel in a URL.
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")
# A Web Push endpoint (a browser's address at its push service, a capability URL): Fieldops never
# logs one, but a library's message or an exception might quote it. The push services' hosts.
_PUSH_ENDPOINT = re.compile(
    r"(?i)\b(https?://(?:[a-z0-9-]+\.)*(?:fcm\.googleapis\.com|push\.services\.mozilla\.com"
    r"|push\.apple\.com|notify\.windows\.com)(?::\d+)?)/[^\s'\"]*"
)
_PLAIN = logging.Formatter()


def redact(text: str) -> str:
    """Replace invite codes in /join/<code>/ paths, bearer tokens and push endpoints' paths: a
    code or a token in a log is a way in for whoever reads it, an endpoint names a browser."""
    # Each pattern needs one of these: most lines (an action's, a request's) hold none of them, and
    # skip the three substitutions, which a line per action paid for nothing.
    if "/join/" not in text and "://" not in text and "bearer" not in text.lower():
        return text
    text = _PUSH_ENDPOINT.sub(r"\1/<endpoint>", text)
    return _BEARER.sub(r"\1<token>", _INVITE_PATH.sub("/join/<code>", text))


class RedactSecrets(logging.Filter):
    """Redacts the message, its arguments and its traceback's text before any handler formats
    them; an exception's message may quote the request that caused it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        if record.exc_info and not record.exc_text:
            # Handlers print exc_text when it is set, instead of formatting exc_info again.
            record.exc_text = _PLAIN.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
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
