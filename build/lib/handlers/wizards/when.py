"""Reading the dates and times staff type into wizards (local time, as written in Norway)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_END_TIME = re.compile(r"^(?P<start>.*\d{1,2}[:.]\d{2})\s*[-\u2013]\s*(?P<end>\d{1,2}[:.]\d{2})$")


def parse_when(text: str, now: datetime, zone: str) -> datetime | None:
    """Read a local date and time staff typed; None when it is not one.

    Accepts ``20.01 09:30``, ``20.01.2027 09:30``, ``2027-01-20 09:30`` and ``09:30`` (the
    next time the clock shows it).
    """
    tz = ZoneInfo(zone)
    local_now = now.astimezone(tz)
    value = " ".join(text.strip().replace("kl.", " ").replace("kl", " ").split())
    attempts = [
        (value, "%d.%m.%Y %H:%M"),
        (value, "%Y-%m-%d %H:%M"),
        (f"{value.split(' ')[0]}.{local_now.year} {value.partition(' ')[2]}", "%d.%m.%Y %H:%M"),
    ]
    for candidate, pattern in attempts:
        try:
            parsed = datetime.strptime(candidate, pattern).replace(tzinfo=tz)
        except ValueError:
            continue
        return parsed.astimezone(UTC)
    try:
        clock = datetime.strptime(value, "%H:%M").replace(tzinfo=tz)
    except ValueError:
        return None
    today = local_now.replace(hour=clock.hour, minute=clock.minute, second=0, microsecond=0)
    if today <= local_now:
        today = (today + timedelta(days=1)).replace(hour=clock.hour, minute=clock.minute)
    return today.astimezone(UTC)


def parse_event_time(
    text: str, now: datetime, zone: str
) -> tuple[datetime, datetime | None] | None:
    """A start (and maybe an end the same day) staff typed; None when it is not a time."""
    value = text.strip()
    end_text = None
    match = _END_TIME.match(value)
    if match is not None:
        value, end_text = match["start"].strip(), match["end"].replace(".", ":")
    starts_at = parse_when(value, now, zone)
    if starts_at is None:
        return None
    if end_text is None:
        return starts_at, None
    try:
        hour, minute = (int(part) for part in end_text.split(":"))
        # The same local day; the zone works out the offset of that wall-clock time.
        local_end = starts_at.astimezone(ZoneInfo(zone)).replace(hour=hour, minute=minute)
    except ValueError:
        return None
    return starts_at, local_end.astimezone(UTC)
