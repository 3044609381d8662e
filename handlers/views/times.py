"""Times as staff and residents read them, in the installation's time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from handlers.i18n import _

# Zones a Norwegian reader knows by a plain name rather than by their tz database name.
NORWEGIAN_ZONES = frozenset({"Europe/Oslo", "Arctic/Longyearbyen"})


def zone_name(zone: str) -> str:
    """The time zone as people say it: "norsk tid" rather than "Europe/Oslo"."""
    return _("Norwegian time") if zone in NORWEGIAN_ZONES else zone


def day_and_time(moment: datetime, zone: str) -> str:
    """A day and a time, in local time: ``Saturday 27.03.2027 at 18:00``."""
    local = moment.astimezone(ZoneInfo(zone))
    return _("{weekday} {date} at {time}").format(
        weekday=weekday_name(local.weekday()), date=f"{local:%d.%m.%Y}", time=f"{local:%H:%M}"
    )


def local_time(moment: datetime, zone: str, now: datetime) -> str:
    """A time as staff read it: ``14:05`` today, ``20.01 14:05`` another day."""
    tz = ZoneInfo(zone)
    shown, today = moment.astimezone(tz), now.astimezone(tz)
    if shown.date() == today.date():
        return f"{shown:%H:%M}"
    if shown.year == today.year:
        return f"{shown:%d.%m %H:%M}"
    return f"{shown:%d.%m.%Y %H:%M}"


def weekday_name(number: int) -> str:
    """Monday (0) to Sunday (6), in the reader's language."""
    return (
        _("Monday"),
        _("Tuesday"),
        _("Wednesday"),
        _("Thursday"),
        _("Friday"),
        _("Saturday"),
        _("Sunday"),
    )[number]


def span_text(starts_at: datetime, ends_at: datetime, zone: str) -> str:
    """When something is, in local time: ``Saturday 27.03.2027 at 18:00-20:00``."""
    tz = ZoneInfo(zone)
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    if end.date() == start.date():
        span = f"{start:%H:%M}-{end:%H:%M}"
    else:
        span = f"{start:%H:%M} - {weekday_name(end.weekday())} {end:%d.%m.%Y %H:%M}"
    return _("{weekday} {date} at {time}").format(
        weekday=weekday_name(start.weekday()), date=f"{start:%d.%m.%Y}", time=span
    )
