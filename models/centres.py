"""Volunteer centres (frivilligsentraler) and the coordinators who speak for them.

A centre comes from the centres file (``medvirk centre import FILE``, docs/volunteering.md): a
slug, a name per language, the district it serves, how to reach it, and the tags it asks
volunteers about ("transport", "homework help"). Residents' volunteer profiles choose among
the tags and districts of every centre.

A coordinator is a Telegram user with the ``coordinator`` role, tied to one or more centres
(``medvirk roles grant ID coordinator --centre SLUG``): they see and create the needs of those
centres only. Their weekly cap limits how many of their invitations one volunteer gets in seven
days (``VOLUNTEER_WEEKLY_CAP`` unless the coordinator has a cap of their own).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel, col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.arenas import load_list
from models.base import Text, UTCDateTime, localized, utcnow
from models.consultation_file import (
    FileRefused,
    _check_fields,
    _Context,
    _key,
    _slug,
    _string,
    language_text,
)
from models.roles import Role, audit, grant, revoke

CENTRE_NAME_LIMIT = 100
DISTRICT_LIMIT = 60
CONTACT_LIMIT = 200
TAG_NAME_LIMIT = 40
MAX_CENTRES = 50
MAX_TAGS = 12  # per centre: a keyboard of tags stays readable
#: Tags across every centre (by id): the volunteer profile shows them all as buttons.
MAX_ALL_TAGS = 40
MAX_DISTRICTS = 30
_CENTRE_FIELDS = ("slug", "name", "district", "contact", "tags")
_TAG_FIELDS = ("id", "name")


class Centre(SQLModel, table=True):
    """A volunteer centre; ``tags`` is ``[{"id": ..., "name": {language: text}}]``."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    name: Text = Field(sa_column=Column(JSON, nullable=False))
    district: str = Field(sa_column=Column(String(DISTRICT_LIMIT), nullable=False))
    contact: str | None = Field(default=None, sa_column=Column(String(CONTACT_LIMIT)))
    tags: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def name_in(self, language: str) -> str:
        """The name in ``language``, else in any language the centre has."""
        return localized(self.name, language, next(iter(self.name), language))

    @property
    def tag_ids(self) -> list[str]:
        """The ids of the centre's tags, in the file's order."""
        return [str(tag["id"]) for tag in self.tags]


class Coordinator(SQLModel, table=True):
    """A coordinator (a Telegram user id, not a participant) and their own weekly cap."""

    telegram_user_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    # Invitations one volunteer gets from this coordinator's needs in seven days; None: the
    # installation's VOLUNTEER_WEEKLY_CAP.
    weekly_cap: int | None = None
    granted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CoordinatorCentre(SQLModel, table=True):
    """A coordinator speaks for a centre."""

    __tablename__ = "coordinator_centre"
    __table_args__ = (UniqueConstraint("telegram_user_id", "centre_id"),)

    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int = Field(
        sa_column=Column(
            BigInteger,
            ForeignKey("coordinator.telegram_user_id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    centre_id: int = Field(
        sa_column=Column(Integer, ForeignKey("centre.id", ondelete="CASCADE"), nullable=False)
    )


@dataclass(frozen=True)
class Tag:
    """A tag volunteers choose: its id and its name per language."""

    id: str
    name: Text

    def name_in(self, language: str) -> str:
        """The name in ``language``, else in any language it has."""
        return localized(self.name, language, next(iter(self.name), language))


# ---------------------------------------------------------------------- reading


async def find_centre(session: AsyncSession, slug: str) -> Centre | None:
    """The centre with this slug."""
    return (await session.exec(select(Centre).where(Centre.slug == slug))).first()


async def list_centres(session: AsyncSession) -> list[Centre]:
    """Every centre, in slug order."""
    return list((await session.exec(select(Centre).order_by(col(Centre.slug)))).all())


def all_tags(centres: list[Centre]) -> list[Tag]:
    """Every tag of the centres, once per id (the first centre's name), in the files' order."""
    seen: dict[str, Tag] = {}
    for centre in centres:
        for tag in centre.tags:
            seen.setdefault(str(tag["id"]), Tag(str(tag["id"]), dict(tag["name"])))
    return list(seen.values())


def all_districts(centres: list[Centre]) -> list[str]:
    """The districts the centres serve, in alphabetical order."""
    return sorted({centre.district for centre in centres})


def district_key(district: str) -> str:
    """A short stable key for a district in button data (a name may be long, or not ASCII)."""
    return hashlib.blake2b(district.encode(), digest_size=4).hexdigest()


def district_of(key: str, districts: list[str]) -> str | None:
    """The district whose :func:`district_key` is ``key``."""
    return next((d for d in districts if district_key(d) == key), None)


async def centres_of(session: AsyncSession, telegram_user_id: int) -> list[Centre]:
    """The centres the coordinator speaks for, in slug order."""
    rows = await session.exec(
        select(Centre)
        .join(CoordinatorCentre, col(CoordinatorCentre.centre_id) == col(Centre.id))
        .where(col(CoordinatorCentre.telegram_user_id) == telegram_user_id)
        .order_by(col(Centre.slug))
    )
    return list(rows.all())


async def weekly_cap_of(session: AsyncSession, telegram_user_id: int, default: int) -> int:
    """The coordinator's weekly cap: their own, else ``default``."""
    found = await session.get(Coordinator, telegram_user_id)
    return found.weekly_cap if found is not None and found.weekly_cap is not None else default


# ---------------------------------------------------------------------- coordinators


class UnknownCentres(ValueError):
    """Centres named that do not exist; ``slugs`` are those."""

    def __init__(self, slugs: list[str]) -> None:
        super().__init__(", ".join(slugs))
        self.slugs = slugs


async def _centres_by_slug(session: AsyncSession, slugs: list[str]) -> list[Centre]:
    found = {c.slug: c for c in await list_centres(session)}
    missing = [slug for slug in slugs if slug not in found]
    if missing:
        raise UnknownCentres(missing)
    return [found[slug] for slug in slugs]


async def make_coordinator(
    session: AsyncSession,
    telegram_user_id: int,
    slugs: list[str],
    *,
    by: int | None,
    now: datetime,
    weekly_cap: int | None = None,
) -> list[str]:
    """Grant the coordinator role and tie the person to these centres; the slugs newly tied.

    Ties to other centres stay. A ``weekly_cap`` replaces the coordinator's own cap.

    Raises:
        UnknownCentres: a slug names no centre; nothing is changed.
    """
    centres = await _centres_by_slug(session, slugs)
    await grant(session, telegram_user_id, Role.COORDINATOR, by=by, now=now)
    coordinator = await session.get(Coordinator, telegram_user_id)
    if coordinator is None:
        coordinator = Coordinator(telegram_user_id=telegram_user_id, granted_at=now)
        session.add(coordinator)
    if weekly_cap is not None:
        coordinator.weekly_cap = weekly_cap
    await session.flush()
    tied = {c.id for c in await centres_of(session, telegram_user_id)}
    new = [c for c in centres if c.id not in tied]
    for centre in new:
        session.add(CoordinatorCentre(telegram_user_id=telegram_user_id, centre_id=centre.id or 0))
    if new:
        detail = {"centres": [c.slug for c in new]}
        await audit(session, by, "coordinator.tie", f"user:{telegram_user_id}", detail, now=now)
    await session.flush()
    return [c.slug for c in new]


async def untie_coordinator(
    session: AsyncSession,
    telegram_user_id: int,
    slugs: list[str] | None,
    *,
    by: int | None,
    now: datetime,
) -> bool:
    """Untie the coordinator from these centres, or with None take the role away altogether.

    A coordinator tied to no centre keeps the role (``/needs`` tells them so). False when
    nothing changed.

    Raises:
        UnknownCentres: a slug names no centre.
    """
    if slugs is None:
        removed = await revoke(session, telegram_user_id, Role.COORDINATOR, by=by, now=now)
        gone = await session.exec(
            delete(Coordinator).where(col(Coordinator.telegram_user_id) == telegram_user_id)
        )
        return removed or bool(gone.rowcount)
    centre_ids = [c.id for c in await _centres_by_slug(session, slugs)]
    result = await session.exec(
        delete(CoordinatorCentre).where(
            col(CoordinatorCentre.telegram_user_id) == telegram_user_id,
            col(CoordinatorCentre.centre_id).in_(centre_ids),
        )
    )
    if result.rowcount:
        detail = {"centres": slugs}
        await audit(session, by, "coordinator.untie", f"user:{telegram_user_id}", detail, now=now)
    return bool(result.rowcount)


async def coordinator_ties(session: AsyncSession) -> dict[int, list[str]]:
    """Every coordinator's centres (slugs), by Telegram user id."""
    rows = await session.exec(
        select(CoordinatorCentre.telegram_user_id, Centre.slug)
        .join(Centre, col(Centre.id) == col(CoordinatorCentre.centre_id))
        .order_by(col(Centre.slug))
    )
    ties: dict[int, list[str]] = {}
    for user_id, slug in rows.all():
        ties.setdefault(int(user_id), []).append(slug)
    return ties


# ---------------------------------------------------------------------- the centres file
#
# ``centres: [{slug, name, district, contact, tags: [{id, name}]}]`` in YAML, checked like the
# arena file: refused whole with every problem listed by field path, nothing stored.


class CentreFileError(FileRefused):
    """A centres file was refused."""

    what = "centres file"


@dataclass(frozen=True)
class CentreSpec:
    """One validated centre of a centres file."""

    slug: str
    name: Text
    district: str
    contact: str | None
    tags: tuple[Tag, ...]


def parse_centre_file(data: bytes | str) -> list[CentreSpec]:
    """Read and check a centres file.

    Raises:
        CentreFileError: with every problem found; nothing of the file is to be stored.
    """
    each = "centre, each with slug, name and district"
    entries, ctx = load_list(data, "centres", CentreFileError, MAX_CENTRES, each)
    specs: list[CentreSpec] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        spec = _centre(entry, index, seen, ctx)
        if spec is not None:
            specs.append(spec)
    _check_totals(specs, ctx)
    if ctx.problems:
        raise CentreFileError(ctx.problems)
    return specs


def _check_totals(specs: list[CentreSpec], ctx: _Context) -> None:
    """Tags and districts across the file stay few enough to show as buttons."""
    tags = {tag.id for spec in specs for tag in spec.tags}
    if len(tags) > MAX_ALL_TAGS:
        ctx.add("centres", f"at most {MAX_ALL_TAGS} different tags in all (has {len(tags)})")
    districts = {spec.district for spec in specs}
    if len(districts) > MAX_DISTRICTS:
        ctx.add("centres", f"at most {MAX_DISTRICTS} districts in all (has {len(districts)})")


def _plain(entry: dict[str, Any], name: str, path: str, limit: int, ctx: _Context) -> str | None:
    """A one-line text field, or None (reported when required and missing)."""
    value = entry.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        ctx.add(f"{path}.{name}", "must be text")
        return None
    return _string(value, f"{path}.{name}", limit, ctx)


def _centre(entry: object, index: int, seen: dict[str, int], ctx: _Context) -> CentreSpec | None:
    """Check one centre of the file; None when it is unusable (the problems are in ``ctx``)."""
    path = f"centres[{index}]"
    if not isinstance(entry, dict):
        ctx.add(path, "must be a mapping with slug, name, district, contact and tags")
        return None
    _check_fields(entry, _CENTRE_FIELDS, path, ctx)
    slug = _slug(entry.get("slug"), f"{path}.slug", ctx, required=True)
    if slug is not None and slug in seen:
        ctx.add(f"{path}.slug", f"'{slug}' is used by centres[{seen[slug]}] too")
    elif slug is not None:
        seen[slug] = index
    name: Text = {}
    if entry.get("name") is None:
        ctx.add(f"{path}.name", "required")
    else:
        name = language_text(entry["name"], f"{path}.name", CENTRE_NAME_LIMIT, ctx)
    district = _plain(entry, "district", path, DISTRICT_LIMIT, ctx)
    if entry.get("district") is None:
        ctx.add(f"{path}.district", "required: the district the centre serves")
    contact = _plain(entry, "contact", path, CONTACT_LIMIT, ctx)
    tags = _tags(entry.get("tags"), f"{path}.tags", ctx)
    if slug is not None and name and district is not None and tags is not None:
        return CentreSpec(slug, name, district, contact, tuple(tags))
    return None


def _tags(value: object, path: str, ctx: _Context) -> list[Tag] | None:
    """The centre's tags: at least one, ids unique within the centre."""
    if not isinstance(value, list) or not value:
        ctx.add(path, "needs at least one tag, each with id and name")
        return None
    if len(value) > MAX_TAGS:
        ctx.add(path, f"at most {MAX_TAGS} tags (has {len(value)})")
    tags: list[Tag] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        item_path = f"{path}[{index}]"
        if not isinstance(item, dict):
            ctx.add(item_path, "must be a mapping with id and name")
            continue
        _check_fields(item, _TAG_FIELDS, item_path, ctx)
        tag_id = _key(item.get("id"), f"{item_path}.id", ctx)
        if tag_id is not None and tag_id in seen:
            ctx.add(f"{item_path}.id", f"'{tag_id}' is used twice")
            continue
        if item.get("name") is None:
            ctx.add(f"{item_path}.name", "required")
            continue
        name = language_text(item["name"], f"{item_path}.name", TAG_NAME_LIMIT, ctx)
        if tag_id is not None and name:
            seen.add(tag_id)
            tags.append(Tag(tag_id, name))
    return tags if len(tags) == len(value) else None


async def import_centres(
    session: AsyncSession, specs: list[CentreSpec], now: datetime
) -> list[tuple[Centre, bool]]:
    """Store centres from a checked file; each with whether it was new.

    A centre already there (same slug) gets the file's name, district, contact and tags; its
    coordinators and needs stay. Centres missing from the file are left as they are.
    """
    stored: list[tuple[Centre, bool]] = []
    for spec in specs:
        centre = await find_centre(session, spec.slug)
        created = centre is None
        if centre is None:
            centre = Centre(slug=spec.slug, name={}, district=spec.district, created_at=now)
            session.add(centre)
        centre.name = dict(spec.name)
        centre.district = spec.district
        centre.contact = spec.contact
        centre.tags = [{"id": tag.id, "name": dict(tag.name)} for tag in spec.tags]
        centre.updated_at = now
        stored.append((centre, created))
    await session.flush()
    return stored
