"""The needs file: several volunteer needs at once, uploaded by a coordinator in the chat.

``needs: [{centre, title, description, tags, district, when | weekly, places, language}]`` in
YAML (docs/volunteering.md), checked like the other files: refused whole with every problem
listed by field path, nothing stored. Times are local (``TIMEZONE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.arenas import load_list
from models.base import Text
from models.centres import Centre
from models.consultation_file import (
    FileRefused,
    _check_fields,
    _Context,
    _int_between,
    language_text,
)
from models.needs import (
    DESCRIPTION_LIMIT,
    PLACES_LIMIT,
    TITLE_LIMIT,
    Need,
    parse_dated,
    parse_weekly,
)
from models.volunteers import SPOKEN

MAX_NEEDS = 20
_FIELDS = (
    "centre",
    "title",
    "description",
    "tags",
    "district",
    "when",
    "weekly",
    "places",
    "language",
)


class NeedFileError(FileRefused):
    """A needs file was refused."""

    what = "needs file"


@dataclass(frozen=True)
class NeedSpec:
    """One validated need of a needs file."""

    centre: Centre
    title: Text
    description: Text | None
    tags: tuple[str, ...]
    district: str
    starts_at: datetime
    ends_at: datetime | None
    weekly: bool
    places: int
    wished_language: str | None

    def fill(self, need: Need) -> Need:
        """Write the spec into a draft need."""
        need.centre_id = self.centre.id or 0
        need.title = dict(self.title)
        need.language = next(iter(self.title))
        need.description = dict(self.description) if self.description else None
        need.tags = list(self.tags)
        need.district = self.district
        need.starts_at, need.ends_at, need.weekly = self.starts_at, self.ends_at, self.weekly
        need.places = self.places
        need.wished_language = self.wished_language
        return need


@dataclass(frozen=True)
class _Where:
    """What a file's needs are checked against."""

    centres: list[Centre]
    districts: list[str]
    now: datetime
    zone: str


def parse_need_file(
    data: bytes | str, centres: list[Centre], districts: list[str], now: datetime, zone: str
) -> list[NeedSpec]:
    """Read and check a needs file of a coordinator of ``centres``.

    Raises:
        NeedFileError: with every problem found; nothing of the file is to be stored.
    """
    entries, ctx = load_list(data, "needs", NeedFileError, MAX_NEEDS, "need")
    where = _Where(centres, districts, now, zone)
    specs = [spec for i, e in enumerate(entries) if (spec := _need(e, i, where, ctx))]
    if ctx.problems:
        raise NeedFileError(ctx.problems)
    return specs


def _need(entry: object, index: int, where: _Where, ctx: _Context) -> NeedSpec | None:
    path = f"needs[{index}]"
    if not isinstance(entry, dict):
        ctx.add(path, "must be a mapping with title, tags, when or weekly, and places")
        return None
    _check_fields(entry, _FIELDS, path, ctx)
    centre = _centre(entry.get("centre"), f"{path}.centre", where.centres, ctx)
    title = _text(entry, "title", path, TITLE_LIMIT, ctx, required=True)
    description = _text(entry, "description", path, DESCRIPTION_LIMIT, ctx, required=False)
    tags = _tags(entry.get("tags"), f"{path}.tags", centre, ctx)
    district = _district(entry.get("district"), f"{path}.district", centre, where, ctx)
    times = _times(entry, path, where, ctx)
    places = _int_between(entry.get("places"), f"{path}.places", 1, PLACES_LIMIT, None, ctx)
    if entry.get("places") is None:
        ctx.add(f"{path}.places", "required: how many people")
    language = _language(entry.get("language"), f"{path}.language", ctx)
    if centre is None or tags is None or district is None or times is None or places is None:
        return None
    if not title:
        return None
    return NeedSpec(centre, title, description or None, tags, district, *times, places, language)


def _text(
    entry: dict[str, Any], name: str, path: str, limit: int, ctx: _Context, *, required: bool
) -> Text:
    if entry.get(name) is None:
        if required:
            ctx.add(f"{path}.{name}", "required")
        return {}
    return language_text(entry[name], f"{path}.{name}", limit, ctx)


def _centre(value: object, path: str, centres: list[Centre], ctx: _Context) -> Centre | None:
    """The need's centre: one of the coordinator's (which may go unsaid when they have one)."""
    slugs = [c.slug for c in centres]
    if value is None:
        if len(centres) == 1:
            return centres[0]
        ctx.add(path, f"required: one of {', '.join(slugs)}")
        return None
    found = next((c for c in centres if c.slug == value), None)
    if found is None:
        ctx.add(path, f"not a centre of yours (yours: {', '.join(slugs)})")
    return found


def _tags(
    value: object, path: str, centre: Centre | None, ctx: _Context
) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        ctx.add(path, "a list of at least one tag id, e.g. [transport]")
        return None
    if centre is None:
        return None
    unknown = [tag for tag in value if tag not in centre.tag_ids]
    if unknown:
        ctx.add(
            path,
            f"not tags of {centre.slug}: {', '.join(unknown)} "
            f"(its tags: {', '.join(centre.tag_ids)})",
        )
        return None
    return tuple(dict.fromkeys(value))


def _district(
    value: object, path: str, centre: Centre | None, where: _Where, ctx: _Context
) -> str | None:
    if value is None:
        return centre.district if centre is not None else None
    if not isinstance(value, str) or value not in where.districts:
        ctx.add(path, f"one of the districts: {', '.join(where.districts)}")
        return None
    return value


def _times(
    entry: dict[str, Any], path: str, where: _Where, ctx: _Context
) -> tuple[datetime, datetime | None, bool] | None:
    """``when`` (one date) or ``weekly`` (a weekday and hours), in the future."""
    when, weekly = entry.get("when"), entry.get("weekly")
    if (when is None) == (weekly is None):
        ctx.add(path, "give either when (a date) or weekly (a weekday), not both")
        return None
    field_name = "when" if when is not None else "weekly"
    text = when if when is not None else weekly
    parsed = None
    if isinstance(text, str):
        if when is not None:
            parsed = parse_dated(text, where.zone)
        else:
            parsed = parse_weekly(text, where.now, where.zone)
    if parsed is None:
        example = "2027-03-27 10:00-14:00" if when is not None else "tuesday 17:00-19:00"
        ctx.add(f"{path}.{field_name}", f"write it like {example} (local time)")
        return None
    starts_at, ends_at = parsed
    if starts_at <= where.now:
        ctx.add(f"{path}.{field_name}", "has passed")
        return None
    if ends_at is not None and ends_at <= starts_at:
        ctx.add(f"{path}.{field_name}", "the end must come after the start")
        return None
    return starts_at, ends_at, weekly is not None


def _language(value: object, path: str, ctx: _Context) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in SPOKEN:
        ctx.add(path, f"a language code: {', '.join(SPOKEN)}")
        return None
    return value
