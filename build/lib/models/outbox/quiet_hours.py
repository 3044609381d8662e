"""Quiet hours: the local hours in which messages that are not urgent wait (``QUIET_HOURS``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuietHours:
    """Local hours in which messages that are not urgent wait (``22-08``: 22:00 to 08:00)."""

    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: str) -> QuietHours | None:
        """Read ``HH-HH`` or ``HH:MM-HH:MM``; empty, ``off`` or ``none`` means no quiet hours.

        Raises:
            ValueError: for anything else, or a zone that does not exist.
        """
        value = text.strip().lower()
        if value in ("", "off", "none", "0"):
            return None
        first, sep, second = value.partition("-")
        if not sep:
            raise ValueError("write the hours as HH-HH, for example 22-08")
        start, end = _clock_time(first), _clock_time(second)
        if start == end:
            raise ValueError("the start and the end are the same")
        return cls(start, end, ZoneInfo(zone))

    def is_quiet(self, now: datetime) -> bool:
        """Tell whether ``now`` (aware) falls in the quiet hours."""
        local = now.astimezone(self.zone).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends(self, now: datetime) -> datetime:
        """When the quiet hours around ``now`` end (UTC); ``now`` itself when it is not quiet."""
        if not self.is_quiet(now):
            return now
        local = now.astimezone(self.zone)
        end = datetime.combine(local.date(), self.end, tzinfo=self.zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=self.zone)
        return end.astimezone(now.tzinfo)

    def __str__(self) -> str:
        """As an operator writes it: ``22:00-08:00``."""
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def _clock_time(text: str) -> time:
    hours, _, minutes = text.strip().partition(":")
    if not hours.isdigit() or (minutes and not minutes.isdigit()):
        raise ValueError(f"{text.strip()!r} is not an hour")
    hour, minute = int(hours), int(minutes or 0)
    if hour == 24 and minute == 0:
        hour = 0
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"{text.strip()!r} is not an hour")
    return time(hour, minute)
