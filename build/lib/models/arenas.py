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

import yaml
from sqlalchemy import JSON, Column, ForeignKey, Integer, String, UniqueConstraint, func
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import Text, UTCDateTime, localized, utcnow
from models.consultation_file import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    MAX_FILE_BYTES,
    ConsultationFileError,
    _check_fields,
    _Context,
    _decode,
    _Loader,
    _slug,
    _string,
    _yaml_error,
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


class ArenaFileError(ValueError):
    """An arena file was refused; ``problems`` lists each as ``"field.path: message"``."""

    def __init__(self, problems: list[str]) -> None:
        """Keep the problems; the message is a one-line summary of them."""
        self.problems = list(problems)
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(f"{len(self.problems)} {noun} in the arena file: " + "; ".join(problems))

    def __reduce__(self) -> tuple[type[ArenaFileError], tuple[list[str]]]:
        """Pickle by problems, since ``__init__`` does not take the message."""
        return (type(self), (self.problems,))


def _arena_text(value: object, path: str, limit: int, ctx: _Context) -> Text:
    """A name or description: text (in the default language) or ``{language: text}``."""
    if isinstance(value, str):
        checked = _string(value, path, limit, ctx)
        return {DEFAULT_LANGUAGE: checked} if checked is not None else {}
    if not isinstance(value, dict) or not value:
        ctx.add(path, "must be text, or languages with texts like {nb: ..., en: ...}")
        return {}
    text: Text = {}
    for code, item in value.items():
        item_path = f"{path}.{code}"
        if code not in LANGUAGES:
            ctx.add(item_path, f"unknown language (use {', '.join(LANGUAGES)})")
        elif not isinstance(item, str):
            ctx.add(item_path, "must be text")
        elif (checked := _string(item, item_path, limit, ctx)) is not None:
            text[code] = checked
    return text


def parse_arena_file(data: bytes | str) -> list[ArenaSpec]:
    """Read and check an arena file.

    Raises:
        ArenaFileError: with every problem found; nothing of the file is to be stored.
    """
    document, ctx = _load_document(data)
    if not isinstance(document, dict) or "arenas" not in document:
        raise ArenaFileError([*ctx.problems, "file: must be a mapping with a list of arenas"])
    _check_fields(document, ("arenas",), "", ctx)
    entries = document["arenas"]
    if not isinstance(entries, list) or not entries:
        ctx.add("arenas", "needs at least one arena, each with slug and name")
        raise ArenaFileError(ctx.problems)
    if len(entries) > MAX_ARENAS:
        ctx.add("arenas", f"at most {MAX_ARENAS} arenas (has {len(entries)})")
    specs: list[ArenaSpec] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        spec = _arena(entry, index, seen, ctx)
        if spec is not None:
            specs.append(spec)
    if ctx.problems:
        raise ArenaFileError(ctx.problems)
    return specs


def _load_document(data: bytes | str) -> tuple[object, _Context]:
    """The file's YAML document, and a context holding its duplicate keys as problems."""
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise ArenaFileError([f"file: too large (at most {MAX_FILE_BYTES // 1024} KB)"])
    try:
        text = _decode(data)
        loader = _Loader(text)
        try:
            document = loader.get_single_data()
        finally:
            loader.dispose()
    except ConsultationFileError as error:
        raise ArenaFileError(error.problems) from None
    except yaml.YAMLError as error:
        raise ArenaFileError(_yaml_error(error, text).problems) from None
    except RecursionError:
        raise ArenaFileError(["file: nested too deeply"]) from None
    return document, _Context(problems=list(loader.duplicate_keys))


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
        name = _arena_text(entry["name"], f"{path}.name", ARENA_NAME_LIMIT, ctx)
    description = None
    if entry.get("description") is not None:
        description = _arena_text(
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
