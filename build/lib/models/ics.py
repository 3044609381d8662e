"""Calendar files (RFC 5545) for events, made with the standard library only.

One VEVENT in a VCALENDAR, times in UTC (``...Z``), so every calendar shows the event at the
right local time whatever its zone and across daylight-saving changes. Lines end in CRLF and
are folded at 75 octets without splitting a UTF-8 character, as the RFC asks.
"""

from __future__ import annotations

from datetime import UTC, datetime

PRODUCT = "-//Medvirk//Medvirk events//EN"
MIME_TYPE = "text/calendar"
LINE_OCTETS = 75


def _escape(text: str) -> str:
    """Escape a TEXT value (RFC 5545 3.3.11)."""
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _stamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: calendar times are written in UTC")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def fold(line: str) -> str:
    """Fold a content line into pieces of at most 75 octets, continued with a space."""
    pieces: list[str] = []
    current, size = "", 0
    limit = LINE_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            pieces.append(current)
            # A continuation line starts with a space, which counts towards its 75 octets.
            current, size, limit = " ", 1, LINE_OCTETS
        current += char
        size += width
    pieces.append(current)
    return "\r\n".join(pieces)


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
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODUCT}",
        "CALSCALE:GREGORIAN",
        "METHOD:CANCEL" if cancelled else "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{_escape(uid)}",
        f"DTSTAMP:{_stamp(stamp)}",
        f"DTSTART:{_stamp(starts_at)}",
        f"DTEND:{_stamp(ends_at)}",
        f"SUMMARY:{_escape(summary)}",
    ]
    if location:
        lines.append(f"LOCATION:{_escape(location)}")
    if description:
        lines.append(f"DESCRIPTION:{_escape(description)}")
    lines.append("STATUS:CANCELLED" if cancelled else "STATUS:CONFIRMED")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "".join(fold(line) + "\r\n" for line in lines)
