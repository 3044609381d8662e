"""Calendar files (RFC 5545) for events, made with ``icalendar``.

One VEVENT in a VCALENDAR, times in UTC (``...Z``), so every calendar shows the event at the
right local time whatever its zone and across daylight-saving changes. ``icalendar`` escapes the
texts, folds lines at 75 octets without splitting a character and ends them in CRLF.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from icalendar import Calendar

PRODUCT = "-//Medvirk//Medvirk events//EN"
MIME_TYPE = "text/calendar"

# RFC 5545 (3.3.11) allows no control characters in a TEXT value but tab and line breaks.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text(value: str) -> str:
    return _CONTROL.sub("", value)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: calendar times are written in UTC")
    return moment.astimezone(UTC)


def event_calendar(
    *,
    uid: str,
    stamp: datetime,
    starts_at: datetime,
    ends_at: datetime,
    summary: str,
    location: str | None = None,
    description: str | None = None,
    cancelled: bool = False,
) -> str:
    """The text of an ``.ics`` file with one event.

    Args:
        uid: globally unique and stable for the event (a calendar updates the same entry).
        stamp: when this version of the file was made.
        starts_at: the start (aware).
        ends_at: the end (aware).
        summary: the title.
        location: where.
        description: what.
        cancelled: write ``STATUS:CANCELLED`` (calendars then strike the entry out).
    """
    calendar = _calendar(cancelled)
    # Imported here: icalendar is about 3 MB of an idle bot's memory, used only for invitations.
    from icalendar import Event as CalendarEvent

    event = CalendarEvent()
    event.add("uid", _text(uid))
    event.add("dtstamp", _utc(stamp))
    event.add("dtstart", _utc(starts_at))
    event.add("dtend", _utc(ends_at))
    event.add("summary", _text(summary))
    if location:
        event.add("location", _text(location))
    if description:
        event.add("description", _text(description))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar.add_component(event)
    return calendar.to_ical().decode("utf-8")


def _calendar(cancelled: bool) -> Calendar:
    """An empty calendar that publishes its events, or cancels them."""
    from icalendar import Calendar

    calendar = Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODUCT)
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    return calendar
