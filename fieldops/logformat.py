"""How the workers print a log record: one JSON object per line in production, plain text for
`make run` (docs/deployment.md, "Log format").

Both print only the fields listed here. Whatever else a record carries is left out: Django's
`django.request` records carry the whole request as an extra, whose text holds the path (an invite
code with it) and its headers. The message and its traceback are redacted by the handler's filter
(logfilters.RedactSecrets); both formatters redact again what they print, so a traceback formatted
here, or a context value, cannot bring back what the filter took out.
"""

import logging
from datetime import UTC, datetime

from pythonjsonlogger.orjson import OrjsonFormatter

from .logfilters import redact

# In this order in each line; a field without a value is left out.
FIELDS = (
    "time", "level", "logger", "message", "request_id", "socket_id", "event", "verb", "outcome",
    "duration_ms", "seq", "status_code", "exc_info", "stack_info",
)  # fmt: skip
# The context after the message in a plain-text line.
CONTEXT = ("request_id", "socket_id", "event", "verb", "outcome", "duration_ms", "seq")

# Neither format prints where a record was made (file, line, function), nor the thread or the
# process: a record need not find them out, which it otherwise does for every line (a line per
# action). The standard library's own switches for that (Logging HOWTO, "Optimization").
logging._srcfile = None
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False


def _time(record: logging.LogRecord) -> str:
    at = datetime.fromtimestamp(record.created, UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(OrjsonFormatter):
    """`{"time": "...Z", "level": "INFO", "logger": "fieldops.actions", "message": "...", ...}`"""

    def add_fields(self, log_data, record, message_dict) -> None:
        # The listed fields only, read off the record: the library's own copies every attribute of
        # the record, all but these to be dropped again, and an action's line paid for it.
        log_data["time"] = _time(record)
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        # In the order of FIELDS, a field without a value left out: the line as it is printed.
        for name in FIELDS[4:]:
            value = message_dict.get(name)
            if value is None:
                value = getattr(record, name, None)
            if value is not None:
                log_data[name] = value

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        return redact(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - logging's name
        return redact(super().formatStack(stack_info))

    def serialize_log_record(self, log_data: dict) -> str:
        return redact(super().serialize_log_record(log_data))


class TextFormatter(logging.Formatter):
    """`2026-05-04T10:12:03.120Z INFO fieldops.actions: checkin ok in 3.1 ms [socket_id=... ]`"""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{_time(record)} {record.levelname} {record.name}: {record.getMessage()}"
        context = [
            f"{name}={value}"
            for name in CONTEXT
            if (value := getattr(record, name, None)) is not None
        ]
        if context:
            text += f" [{' '.join(context)}]"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text += "\n" + record.exc_text
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return redact(text)
