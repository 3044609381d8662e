"""What handlers get from the runtime: a typed context with the database and settings."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram.ext import Application, CallbackContext, ExtBot

from models.base import utcnow
from models.outbox import QuietHours
from models.reminders import ReminderPolicy

RUNTIME_KEY = "runtime"

Clock = Callable[[], datetime]


@dataclass
class Runtime:
    """Wiring handed from ``bot`` to the handlers: configuration, not conversation state."""

    sessionmaker: async_sessionmaker[AsyncSession]
    default_language: str = "nb"
    admin_ids: frozenset[int] = frozenset()
    # Injected in tests to move time; everything the domain decides uses this clock.
    clock: Clock = field(default=utcnow)
    # Who citizens contact about their data, and how long data is kept (see docs/privacy.md).
    privacy_contact: str = ""
    free_text_retention_days: int = 180
    inactive_retention_months: int = 24
    # Broadcasts: times are shown in this zone; progress estimates use the rate and the quiet
    # hours (see docs/broadcasts.md).
    timezone: str = "Europe/Oslo"
    broadcast_rate: float = 25.0
    quiet_hours: QuietHours | None = None
    # Reminders (docs/arenas.md): hours before an event; hours without an answer before the
    # reminder to finish (0: never); how many hours late a reminder may still be sent.
    event_reminder_hours: tuple[float, ...] = (24.0, 2.0)
    finish_reminder_hours: float = 24.0
    reminder_max_age_hours: float = 12.0
    # SQLite has one writer at a time: update transactions queue on this lock in the process
    # instead of sleeping in the database's busy handler. None (PostgreSQL): no queue.
    transaction_lock: asyncio.Lock | None = None

    def reminder_policy(self) -> ReminderPolicy:
        """The reminder settings, as the domain takes them."""
        return ReminderPolicy(
            zone=self.timezone,
            event_hours=tuple(self.event_reminder_hours),
            finish_after=(
                timedelta(hours=self.finish_reminder_hours)
                if self.finish_reminder_hours > 0
                else None
            ),
            max_age=timedelta(hours=self.reminder_max_age_hours),
            quiet=self.quiet_hours,
            default_language=self.default_language,
        )


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The callback context, with typed access to the runtime."""

    @property
    def runtime(self) -> Runtime:
        """The runtime this application was built with."""
        return cast(Runtime, self.application.bot_data[RUNTIME_KEY])


def install_runtime(
    application: Application[Any, Any, Any, Any, Any, Any], runtime: Runtime
) -> None:
    """Make ``runtime`` available to every handler of ``application``."""
    application.bot_data[RUNTIME_KEY] = runtime
