"""Participation arenas and the people who subscribed to them.

An arena is a standing place to take part (a volunteer centre's dialogue arena, a focus group
for co-creation); people subscribe to hear about it, and staff broadcast to its subscribers.
This module holds the two tables and the few rules broadcasts need; the arena features
(import, ``/arenas``, opting in at the end of a consultation) build on them.

A subscription is one row per person and arena. Withdrawing keeps the row with
``withdrawn_at`` set (so staff can see that someone left); subscribing again clears it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, UniqueConstraint, func
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import Text, UTCDateTime, localized, utcnow
from models.consultation_file import (
    FileRefused,
    _check_fields,
    _Context,
    _slug,
    language_text,
    load_yaml_file,
)


class Arena(SQLModel, table=True):
    """A participation arena; ``name`` and ``description`` are texts per language."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    name: Text = Field(sa_column=Column(JSON, nullable=False))
    description: Text | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def name_in(self, language: str) -> str:
        """The name in ``language``, else in any language the arena has."""
        return localized(self.name, language, next(iter(self.name), language))


class Subscription(SQLModel, table=True):
    """A person who wants to hear from an arena (until ``withdrawn_at``)."""

    __table_args__ = (UniqueConstraint("participant_id", "arena_id"),)

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(
        sa_column=Column(Integer, ForeignKey("participant.id", ondelete="CASCADE"), nullable=False)
    )
    arena_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("arena.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


async def find_arena(session: AsyncSession, slug: str) -> Arena | None:
    """Return the arena with this slug."""
    return (await session.exec(select(Arena).where(Arena.slug == slug))).first()


async def subscribe(
    session: AsyncSession, participant_id: int, arena_id: int, now: datetime
) -> Subscription:
    """Subscribe the person to the arena; subscribing again after withdrawing renews it."""
    found = (
        await session.exec(
            select(Subscription).where(
                Subscription.participant_id == participant_id, Subscription.arena_id == arena_id
            )
        )
    ).first()
    if found is None:
        found = Subscription(participant_id=participant_id, arena_id=arena_id, created_at=now)
        session.add(found)
    elif found.withdrawn_at is not None:
        found.withdrawn_at = None
        found.created_at = now
    await session.flush()
    return found


async def unsubscribe(
    session: AsyncSession, participant_id: int, arena_id: int, now: datetime
) -> bool:
    """Withdraw the subscription; False when there was none to withdraw."""
    found = (
        await session.exec(
            select(Subscription).where(
                Subscription.participant_id == participant_id,
                Subscription.arena_id == arena_id,
                col(Subscription.withdrawn_at).is_(None),
            )
        )
    ).first()
    if found is None:
        return False
    found.withdrawn_at = now
    await session.flush()
    return True


async def arenas_with_subscribers(session: AsyncSession) -> list[tuple[Arena, int]]:
    """Every arena with its count of current subscriptions, by name order of slugs."""
    rows = (
        await session.exec(
            select(Arena, func.count(col(Subscription.id)))
            .outerjoin(
                Subscription,
                (col(Subscription.arena_id) == col(Arena.id))
                & col(Subscription.withdrawn_at).is_(None),
            )
            .group_by(col(Arena.id))
            .order_by(col(Arena.slug))
        )
    ).all()
    return [(arena, int(count)) for arena, count in rows]


# ---------------------------------------------------------------------- the arena file
#
# ``arenas: [{slug, name, description}]`` in YAML (docs/arenas.md), checked like a
# consultation file: refused whole with every problem listed by field path, nothing stored.

ARENA_NAME_LIMIT = 100
ARENA_DESCRIPTION_LIMIT = 1000
MAX_ARENAS = 100
_ARENA_FIELDS = ("slug", "name", "description")


@dataclass(frozen=True)
class ArenaSpec:
    """One validated arena of an arena file."""

    slug: str
    name: Text
    description: Text | None


class ArenaFileError(FileRefused):
    """An arena file was refused; ``problems`` lists each as ``"field.path: message"``."""

    what = "arena file"


def parse_arena_file(data: bytes | str) -> list[ArenaSpec]:
    """Read and check an arena file.

    Raises:
        ArenaFileError: with every problem found; nothing of the file is to be stored.
    """
    entries, ctx = load_list(
        data, "arenas", ArenaFileError, MAX_ARENAS, "arena, each with slug and name"
    )
    specs: list[ArenaSpec] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        spec = _arena(entry, index, seen, ctx)
        if spec is not None:
            specs.append(spec)
    if ctx.problems:
        raise ArenaFileError(ctx.problems)
    return specs


def load_document(
    data: bytes | str, refused: type[FileRefused] = ArenaFileError
) -> tuple[object, _Context]:
    """The file's YAML document, and a context holding its duplicate keys as problems."""
    return load_yaml_file(data, refused)


def load_list(
    data: bytes | str, key: str, refused: type[FileRefused], most: int, each: str
) -> tuple[list[Any], _Context]:
    """The list a file holds under ``key``, and a context with the problems found so far.

    At most ``most`` entries (more is a problem, reported with the rest); ``each`` says what
    one entry is ("arena, each with slug and name").

    Raises:
        FileRefused: of the kind ``refused``, when the file is not a mapping with a list of at
            least one entry under ``key``.
    """
    document, ctx = load_document(data, refused)
    if not isinstance(document, dict) or key not in document:
        raise refused([*ctx.problems, f"file: must be a mapping with a list of {key}"])
    _check_fields(document, (key,), "", ctx)
    entries = document[key]
    if not isinstance(entries, list) or not entries:
        ctx.add(key, f"needs at least one {each}")
        raise refused(ctx.problems)
    if len(entries) > most:
        ctx.add(key, f"at most {most} {key} (has {len(entries)})")
    return entries, ctx


def _arena(entry: object, index: int, seen: dict[str, int], ctx: _Context) -> ArenaSpec | None:
    """Check one arena of the file; None when it is unusable (the problems are in ``ctx``)."""
    path = f"arenas[{index}]"
    if not isinstance(entry, dict):
        ctx.add(path, "must be a mapping with slug, name and description")
        return None
    _check_fields(entry, _ARENA_FIELDS, path, ctx)
    slug = _slug(entry.get("slug"), f"{path}.slug", ctx, required=True)
    if slug is not None and slug in seen:
        ctx.add(f"{path}.slug", f"'{slug}' is used by arenas[{seen[slug]}] too")
    elif slug is not None:
        seen[slug] = index
    if entry.get("name") is None:
        ctx.add(f"{path}.name", "required")
        name: Text = {}
    else:
        name = language_text(entry["name"], f"{path}.name", ARENA_NAME_LIMIT, ctx)
    description = None
    if entry.get("description") is not None:
        description = language_text(
            entry["description"], f"{path}.description", ARENA_DESCRIPTION_LIMIT, ctx
        )
    if slug is not None and name:
        return ArenaSpec(slug, name, description or None)
    return None


async def import_arenas(session: AsyncSession, specs: list[ArenaSpec]) -> list[tuple[Arena, bool]]:
    """Store arenas from a checked file; each with whether it was new.

    An arena already there (same slug) gets the new name and description; its subscribers
    stay. Arenas missing from the file are left as they are.
    """
    stored: list[tuple[Arena, bool]] = []
    for spec in specs:
        arena = await find_arena(session, spec.slug)
        created = arena is None
        if arena is None:
            arena = Arena(slug=spec.slug, name=dict(spec.name))
            session.add(arena)
        arena.name = dict(spec.name)
        arena.description = dict(spec.description) if spec.description else None
        stored.append((arena, created))
    await session.flush()
    return stored


async def list_arenas(session: AsyncSession) -> list[Arena]:
    """Every arena, in slug order."""
    return list((await session.exec(select(Arena).order_by(col(Arena.slug)))).all())


async def subscribed_arena_ids(session: AsyncSession, participant_id: int) -> set[int]:
    """The arenas the person subscribes to now."""
    rows = await session.exec(
        select(Subscription.arena_id).where(
            Subscription.participant_id == participant_id,
            col(Subscription.withdrawn_at).is_(None),
        )
    )
    return set(rows.all())
