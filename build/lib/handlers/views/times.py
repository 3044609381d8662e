"""Times as staff and residents read them, in the installation's time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def local_time(moment: datetime, zone: str, now: datetime) -> str:
    """A time as staff read it: ``14:05`` today, ``20.01 14:05`` another day."""
    tz = ZoneInfo(zone)
    shown, today = moment.astimezone(tz), now.astimezone(tz)
    if shown.date() == today.date():
        return f"{shown:%H:%M}"
    if shown.year == today.year:
        return f"{shown:%d.%m %H:%M}"
    return f"{shown:%d.%m.%Y %H:%M}"
