"""Column types and helpers shared by every table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import BigInteger, DateTime, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

Text = dict[str, str]


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite has no time zones and returns naive values; PostgreSQL converts to the session's
    zone. Normalising here means the domain only ever sees aware UTC datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes and store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the domain works in aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Attach UTC to what SQLite gives back."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Telegram ids exceed 32 bits.
TelegramId = BigInteger


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model, for statements over many rows without ORM objects."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def localized(text: Text | None, language: str, fallback: str) -> str:
    """Pick ``text`` in ``language``, else the consultation's first language, else any."""
    if not text:
        return ""
    return text.get(language) or text.get(fallback) or next(iter(text.values()))
