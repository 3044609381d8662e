"""Audiences: who a broadcast goes to, as SQL conditions over the participant table.

Every audience also requires current consent, a reachable person and no ``/stop``
(:func:`audience_condition`). Each kind selects people with a condition in :data:`AUDIENCES`:
add a kind by adding an entry there. Counting people and their languages, and the deep-link
sources they came from, help staff choose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, true, union
from sqlalchemy import select as core_select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.answers import Response
from models.arenas import Arena, Subscription
from models.base import table_of
from models.participant import Participant, consent_condition
from models.stops import not_stopped

P = table_of(Participant)
R = table_of(Response)


class AudienceKind(StrEnum):
    """Who a broadcast goes to (always among people who consented and are reachable)."""

    CONSENTED = "consented"  # everyone
    ARENA = "arena"  # current subscribers of an arena (ref: the arena id)
    UNFINISHED = "unfinished"  # started a consultation but did not finish (ref: its id)
    SOURCE = "source"  # came from a deep-link source (ref: the source)


@dataclass(frozen=True)
class Audience:
    """Who a broadcast goes to: a kind and, for some kinds, what it refers to."""

    kind: AudienceKind
    ref: str = ""

    def to_json(self) -> dict[str, str]:
        """As stored in ``Broadcast.audience``."""
        return {"kind": self.kind.value, "ref": self.ref}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Audience | None:
        """Read a stored audience; None for none or one this version does not know."""
        if not data:
            return None
        try:
            return cls(AudienceKind(data["kind"]), str(data.get("ref") or ""))
        except (KeyError, ValueError):
            return None

    @property
    def ref_id(self) -> int:
        """The reference as a database id (0 when it is not one)."""
        return int(self.ref) if self.ref.isdigit() else 0


def _everyone(audience: Audience) -> ColumnElement[bool]:
    return true()


def _arena_subscribers(audience: Audience) -> ColumnElement[bool]:
    s = table_of(Subscription)
    return exists().where(
        s.c.participant_id == P.c.id,
        s.c.arena_id == audience.ref_id,
        s.c.withdrawn_at.is_(None),
    )


def _unfinished(audience: Audience) -> ColumnElement[bool]:
    return exists().where(
        R.c.participant_id == P.c.id,
        R.c.consultation_id == audience.ref_id,
        R.c.completed_at.is_(None),
    )


def _from_source(audience: Audience) -> ColumnElement[bool]:
    # The first-contact source, or the source of any consultation the person opened by link.
    return or_(
        P.c.source == audience.ref,
        exists().where(R.c.participant_id == P.c.id, R.c.source == audience.ref),
    )


#: How each kind of audience selects participants. Extension point: a new kind is a new entry.
AUDIENCES: dict[AudienceKind, Callable[[Audience], ColumnElement[bool]]] = {
    AudienceKind.CONSENTED: _everyone,
    AudienceKind.ARENA: _arena_subscribers,
    AudienceKind.UNFINISHED: _unfinished,
    AudienceKind.SOURCE: _from_source,
}


def audience_condition(audience: Audience) -> ColumnElement[bool]:
    """The SQL condition on ``participant`` for everyone in ``audience``."""
    return and_(
        P.c.unreachable_at.is_(None),
        not_stopped(P.c.id),  # sent /stop
        consent_condition(),
        AUDIENCES[audience.kind](audience),
    )


async def count_participants(session: AsyncSession, condition: ColumnElement[bool]) -> int:
    """How many participants meet ``condition`` right now (counted in SQL, none loaded)."""
    # Table-level statements go through the connection: the ORM session wants mapped classes.
    connection = await session.connection()
    statement = core_select(func.count()).select_from(P).where(condition)
    return int((await connection.execute(statement)).scalar_one())


async def count_audience(session: AsyncSession, audience: Audience) -> int:
    """How many people are in ``audience`` right now."""
    return await count_participants(session, audience_condition(audience))


async def audience_languages(
    session: AsyncSession, audience: Audience, default: str
) -> dict[str, int]:
    """How many people in ``audience`` read each language (no language: ``default``)."""
    connection = await session.connection()
    language = func.coalesce(P.c.language, default)
    rows = await connection.execute(
        core_select(language, func.count())
        .select_from(P)
        .where(audience_condition(audience))
        .group_by(language)
        .order_by(func.count().desc())
    )
    return {str(code): int(count) for code, count in rows.all()}


async def known_sources(session: AsyncSession, limit: int = 10) -> list[tuple[str, int]]:
    """The deep-link sources people came from, most people first, with how many."""
    pairs = union(
        core_select(P.c.id.label("pid"), P.c.source.label("src")).where(P.c.source.is_not(None)),
        core_select(R.c.participant_id.label("pid"), R.c.source.label("src")).where(
            R.c.source.is_not(None)
        ),
    ).subquery()
    connection = await session.connection()
    rows = await connection.execute(
        core_select(pairs.c.src, func.count(func.distinct(pairs.c.pid)))
        .group_by(pairs.c.src)
        .order_by(func.count(func.distinct(pairs.c.pid)).desc(), pairs.c.src)
        .limit(limit)
    )
    return [(str(source), int(count)) for source, count in rows.all()]


async def arena_by_id(session: AsyncSession, arena_id: int) -> Arena | None:
    """Return the arena with this id."""
    return await session.get(Arena, arena_id)
