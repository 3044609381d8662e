"""Dates and times as the reader writes them, in the installation's time zone.

One function per kind, each through Babel in the current language's conventions (CLDR): a date
(``20. jan. 2027``, ``20 Jan 2027``, ``20 يناير 2027``), a time (``18:00``, ``6:00 م``), a weekday,
a day with its time, a span, and the compact form of staff lists. Months are written as words so
that no reader takes 03/04 for the 3rd of April or for the 4th of March.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_interval, format_skeleton, format_time

from handlers.i18n import _, babel_locale, current_language

# Zones a Norwegian reader knows by a plain name rather than by their tz database name.
NORWEGIAN_ZONES = frozenset({"Europe/Oslo", "Arctic/Longyearbyen"})
EN_DASH = "\u2013"


def _locale() -> Locale:
    return babel_locale(current_language())


def _local(moment: datetime, zone: str) -> datetime:
    """``moment`` in ``zone``; a naive one (as SQLite gives them back) is UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(zone))


def zone_name(zone: str) -> str:
    """The time zone as people say it: "norsk tid" rather than "Europe/Oslo"."""
    return _("Norwegian time") if zone in NORWEGIAN_ZONES else zone


def date_text(moment: datetime, zone: str) -> str:
    """A date, in local time: ``20. jan. 2027`` in Bokmål, ``20 Jan 2027`` in English."""
    return format_skeleton("yMMMd", _local(moment, zone), locale=_locale())


def time_text(moment: datetime, zone: str) -> str:
    """A time of day, in local time: ``18:00``; ``6:00 م`` in Arabic."""
    return format_time(_local(moment, zone), "short", locale=_locale())


def weekday_name(number: int) -> str:
    """Monday (0) to Sunday (6), in the reader's language ("lørdag", "Saturday", "السبت")."""
    return str(_locale().days["format"]["wide"][number])


def day_and_time(moment: datetime, zone: str) -> str:
    """A day and a time, in local time: ``Saturday 27 Mar 2027 at 18:00``."""
    local = _local(moment, zone)
    return _("{weekday} {date} at {time}").format(
        weekday=weekday_name(local.weekday()),
        date=date_text(local, zone),
        time=time_text(local, zone),
    )


def hours_text(start: datetime, end: datetime, zone: str) -> str:
    """From one time to another on one day: ``18:00-20:00``."""
    locale = _locale()
    twelve_hours = "h" in str(locale.time_formats["short"].pattern)
    return format_interval(
        _local(start, zone), _local(end, zone), "hm" if twelve_hours else "Hm", locale=locale
    )


def span_text(starts_at: datetime, ends_at: datetime, zone: str) -> str:
    """When something is, in local time: ``Saturday 27 Mar 2027 at 18:00-20:00``."""
    start, end = _local(starts_at, zone), _local(ends_at, zone)
    if end.date() == start.date():
        span = hours_text(start, end, zone)
    else:
        span = f"{time_text(start, zone)} {EN_DASH} {day_and_time(end, zone)}"
    return _("{weekday} {date} at {time}").format(
        weekday=weekday_name(start.weekday()), date=date_text(start, zone), time=span
    )


def local_time(moment: datetime, zone: str, now: datetime) -> str:
    """A time as staff lists show it: ``14:05`` today, ``20. jan. 14:05`` another day this
    year, with the year another year."""
    shown, today = _local(moment, zone), _local(now, zone)
    if shown.date() == today.date():
        return time_text(shown, zone)
    if shown.year == today.year:
        return f"{format_skeleton('MMMd', shown, locale=_locale())} {time_text(shown, zone)}"
    return f"{date_text(shown, zone)} {time_text(shown, zone)}"


def short_date_and_time(moment: datetime, zone: str) -> str:
    """A date without its year and a time, for short lists: ``20. jan. 14:05``."""
    shown = _local(moment, zone)
    return f"{format_skeleton('MMMd', shown, locale=_locale())} {time_text(shown, zone)}"
