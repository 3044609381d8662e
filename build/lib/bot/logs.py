"""Logging: one line per event, plain or JSON, with secrets redacted as a last line of defence.

The code logs ids, kinds, counts and exception types; never names, answer texts or the token.
Two things guard that anyway: httpx and httpcore are kept at WARNING (they log every request's
full URL, and a Bot API URL contains the token), and :class:`RedactSecrets` replaces the token
and the webhook secret in every record that reaches a handler, traceback included.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

LogFormat = Literal["plain", "json"]

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[REDACTED]"

# Libraries that log too much, or personal data, below these levels. They stay there even
# with LOG_LEVEL=DEBUG: a debug log must not become a copy of people's messages.
NOISY_LOGGERS = {
    "httpx": logging.WARNING,  # logs full request URLs, which contain the bot token
    "httpcore": logging.WARNING,
    "telegram": logging.INFO,  # DEBUG logs whole updates and API answers: names, texts
    "aiosqlite": logging.INFO,  # DEBUG logs every statement with its parameters
    "apscheduler": logging.WARNING,  # a line for every job run
    "aiohttp.access": logging.WARNING,  # request lines; the update log says more, and less
}

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def quiet_noisy_loggers() -> None:
    """Raise the level of libraries that log URLs or routine chatter."""
    for name, level in NOISY_LOGGERS.items():
        logging.getLogger(name).setLevel(level)


class RedactSecrets(logging.Filter):
    """Replace secrets in a record's message, traceback and stack with ``[REDACTED]``."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        """Redact each non-empty secret, also in its URL-quoted form."""
        super().__init__()
        found: set[str] = set()
        for secret in secrets:
            if secret:
                found |= {secret, quote(secret, safe="")}
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted(found, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """Return ``text`` with every secret replaced."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        if not self._secrets:
            return True
        try:
            record.msg = self.redact(record.getMessage())
            record.args = None
            if record.exc_info and not record.exc_text:
                record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
            if record.exc_text:
                record.exc_text = self.redact(record.exc_text)
            if record.stack_info:
                record.stack_info = self.redact(record.stack_info)
        except Exception:  # a broken record must still be logged; logging reports it
            return True
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record; a traceback goes into one escaped field, not several lines."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            if not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(
    level: str = "INFO", fmt: LogFormat = "plain", secrets: Iterable[str | None] = ()
) -> logging.Handler:
    """Log to stderr in ``fmt``, redacting ``secrets``; replaces any earlier configuration.

    Returns:
        The handler installed on the root logger.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(PLAIN_FORMAT))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    quiet_noisy_loggers()
    return handler
