"""The delivery worker's side of the outbox: claim due rows under a lease, record outcomes.

The worker (``bot/delivery.py``) claims due rows, sends them under the rate limits and records
each outcome here. A claim is a lease: a worker that dies leaves claims that lapse, and another
worker takes the rows. Nothing about a message in flight lives only in memory, so a crash loses
nothing; at most the sends in flight can repeat.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, func, or_, update
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import table_of
from models.outbox.tables import B, BroadcastState, D, DeliveryState
from models.participant import Participant, consent_condition
from models.stops import not_stopped

logger = logging.getLogger(__name__)

P = table_of(Participant)


def _bucketed(ids: Iterable[int]) -> list[int]:
    """``ids`` padded with -1 (matches no row) to one of a few fixed lengths.

    Each length of an ``IN (...)`` list is a statement text of its own, which the drivers
    prepare and keep per connection (asyncpg, sqlite3). During a long broadcast the lists take
    every length up to the batch size; a handful of lengths keeps those caches, and the
    process's memory, small.
    """
    values = list(ids)
    size = 8
    while size < len(values):
        size *= 4
    return values + [-1] * (size - len(values))


# ---------------------------------------------------------------------- claiming


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this worker may send now, with what it needs to send it."""

    id: int
    participant_id: int
    chat_id: int
    language: str | None
    broadcast_id: int | None
    payload: dict[str, Any] | None
    attempts: int
    urgent: bool


@dataclass
class _Sorted:
    """Claimed rows sorted out: the ones to send, and the ones settled unsent (by why)."""

    ready: list[Claim] = field(default_factory=list)
    unreachable: list[int] = field(default_factory=list)
    withdrawn: list[int] = field(default_factory=list)
    stopped: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    expired_kinds: dict[str, int] = field(default_factory=dict)


async def claim(
    session: AsyncSession,
    worker: str,
    *,
    now: datetime,
    wall_now: datetime,
    lease: timedelta,
    limit: int,
    quiet: bool,
) -> list[Claim]:
    """Claim up to ``limit`` due deliveries for ``worker``, oldest first.

    On PostgreSQL the rows are locked with ``FOR UPDATE SKIP LOCKED``, so two workers never
    claim one row; a claim is a lease until ``wall_now + lease``, after which another worker may
    take the row (its worker died). Rows of paused or cancelled broadcasts are left alone, and
    during quiet hours only urgent ones are taken. A claimed row whose person has meanwhile
    become unreachable, or withdrawn consent, is settled here and not returned.

    Args:
        session: a session inside a transaction.
        worker: this worker's id.
        now: the domain's clock (due times, quiet hours).
        wall_now: real time (leases are between processes, whatever the domain's clock says).
        lease: how long the claim holds.
        limit: at most this many rows.
        quiet: True during quiet hours.
    """
    # Table-level statements go through the connection: the ORM session wants mapped classes.
    connection = await session.connection()
    due = _due(now, wall_now, quiet=quiet)
    claimed = await _lease(connection, worker, due, until=wall_now + lease, limit=limit)
    if not claimed:
        return []
    people = await _recipients(connection, {row.participant_id for row in claimed})
    rows = _sort_out(claimed, people, now)
    await _settle(connection, rows)
    return rows.ready


def _due(now: datetime, wall_now: datetime, *, quiet: bool) -> list[ColumnElement[bool]]:
    """Rows to send now: pending, due, not leased, not of a paused or cancelled broadcast."""
    running = core_select(B.c.id).where(B.c.state == BroadcastState.RUNNING)
    conditions: list[ColumnElement[bool]] = [
        D.c.state == DeliveryState.PENDING,
        D.c.due_at <= now,
        or_(D.c.claimed_until.is_(None), D.c.claimed_until < wall_now),
        or_(D.c.broadcast_id.is_(None), D.c.broadcast_id.in_(running)),
    ]
    if quiet:
        conditions.append(D.c.urgent.is_(True))
    return conditions


async def _lease(
    connection: AsyncConnection,
    worker: str,
    conditions: list[ColumnElement[bool]],
    *,
    until: datetime,
    limit: int,
) -> Sequence[Row[Any]]:
    """Mark up to ``limit`` rows meeting ``conditions`` as this worker's; return them."""
    pick = (
        core_select(D.c.id)
        .where(*conditions)
        .order_by(D.c.due_at, D.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (
        await connection.execute(
            update(D)
            .where(D.c.id.in_(pick.scalar_subquery()))
            .values(claimed_by=worker, claimed_until=until)
            .returning(
                D.c.id,
                D.c.participant_id,
                D.c.broadcast_id,
                D.c.payload,
                D.c.attempts,
                D.c.urgent,
                D.c.kind,
                D.c.expires_at,
            )
        )
    ).all()


async def _recipients(connection: AsyncConnection, ids: set[int]) -> dict[int, Row[Any]]:
    """The claimed rows' people: chat, language, and whether they may still get messages."""
    return {
        row.id: row
        for row in await connection.execute(
            core_select(
                P.c.id,
                P.c.chat_id,
                P.c.language,
                P.c.unreachable_at,
                not_stopped(P.c.id).label("receives"),
                consent_condition().label("consented"),
            ).where(P.c.id.in_(_bucketed(ids)))
        )
    }


def _sort_out(claimed: Sequence[Row[Any]], people: dict[int, Row[Any]], now: datetime) -> _Sorted:
    """Tell the rows to send from those whose person, or whose time, is gone."""
    rows = _Sorted()
    for row in sorted(claimed, key=lambda r: r.id):
        person = people.get(row.participant_id)
        if person is None or person.unreachable_at is not None:
            rows.unreachable.append(row.id)
        elif not person.consented:
            rows.withdrawn.append(row.id)
        elif not person.receives:
            rows.stopped.append(row.id)  # /stop cancels pending rows itself; this catches a race
        elif row.expires_at is not None and row.expires_at <= now:
            rows.expired.append(row.id)
            rows.expired_kinds[row.kind] = rows.expired_kinds.get(row.kind, 0) + 1
        else:
            rows.ready.append(
                Claim(
                    row.id,
                    row.participant_id,
                    int(person.chat_id),
                    person.language,
                    row.broadcast_id,
                    row.payload,
                    int(row.attempts),
                    bool(row.urgent),
                )
            )
    return rows


async def _settle(connection: AsyncConnection, rows: _Sorted) -> None:
    """Record the rows that are not to be sent, and why."""
    settle = [
        (DeliveryState.UNREACHABLE, rows.unreachable, "blocked the bot earlier"),
        (DeliveryState.CANCELLED, rows.withdrawn, "consent withdrawn"),
        (DeliveryState.CANCELLED, rows.stopped, "stopped"),
        (DeliveryState.CANCELLED, rows.expired, "expired: too late to send"),
    ]
    if rows.expired_kinds:
        # Kinds and counts only: who they were for is nobody's business in a log.
        logger.warning(
            "Dropped %d outbox messages that were too late to send (%s)",
            len(rows.expired),
            ", ".join(f"{kind}: {count}" for kind, count in sorted(rows.expired_kinds.items())),
        )
    for state, ids, detail in settle:
        if ids:
            await connection.execute(
                update(D)
                .where(D.c.id.in_(_bucketed(ids)))
                .values(state=state, detail=detail, claimed_by=None, claimed_until=None)
            )


# ---------------------------------------------------------------------- outcomes and leases


@dataclass(frozen=True, slots=True)
class Outcome:
    """How sending one claimed delivery ended."""

    delivery_id: int
    participant_id: int
    state: DeliveryState
    tries: int = 1  # requests made for it under this claim
    detail: str | None = None


async def record(session: AsyncSession, outcomes: Sequence[Outcome], now: datetime) -> None:
    """Store outcomes, grouped into a few statements; 403s mark the person unreachable."""
    connection = await session.connection()
    groups: dict[tuple[DeliveryState, int, str | None], list[int]] = {}
    for outcome in outcomes:
        groups.setdefault((outcome.state, outcome.tries, outcome.detail), []).append(
            outcome.delivery_id
        )
    for (state, tries, detail), ids in groups.items():
        values: dict[str, Any] = {
            "state": state,
            "attempts": D.c.attempts + tries,
            "detail": detail,
            "claimed_by": None,
            "claimed_until": None,
        }
        if state == DeliveryState.SENT:
            values["sent_at"] = now
        await connection.execute(update(D).where(D.c.id.in_(_bucketed(ids))).values(**values))
    blocked = {o.participant_id for o in outcomes if o.state == DeliveryState.UNREACHABLE}
    if blocked:
        await connection.execute(
            update(P)
            .where(P.c.id.in_(_bucketed(blocked)), P.c.unreachable_at.is_(None))
            .values(unreachable_at=now)
        )


async def mark_unreachable(
    session: AsyncSession, telegram_user_id: int, now: datetime, *, reachable: bool = False
) -> bool:
    """Record that the person blocked the bot (or, with ``reachable``, unblocked it).

    Returns:
        True when the participant exists.
    """
    connection = await session.connection()
    result = await connection.execute(
        update(P)
        .where(P.c.telegram_user_id == telegram_user_id)
        .values(unreachable_at=None if reachable else now)
    )
    return bool(result.rowcount)


async def release(session: AsyncSession, worker: str, delivery_ids: Iterable[int]) -> None:
    """Give claimed rows back unsent (a pause, a shutdown), for any worker to take."""
    await _update_held(session, worker, delivery_ids, [], claimed_by=None, claimed_until=None)


async def renew(
    session: AsyncSession, worker: str, delivery_ids: Iterable[int], until: datetime
) -> None:
    """Extend this worker's claims on rows it still holds."""
    await _update_held(
        session, worker, delivery_ids, [D.c.state == DeliveryState.PENDING], claimed_until=until
    )


async def _update_held(
    session: AsyncSession,
    worker: str,
    delivery_ids: Iterable[int],
    conditions: list[ColumnElement[bool]],
    **values: Any,
) -> None:
    """Change the rows among ``delivery_ids`` that this worker holds (and meet ``conditions``)."""
    ids = list(delivery_ids)
    if not ids:
        return
    connection = await session.connection()
    await connection.execute(
        update(D)
        .where(D.c.id.in_(_bucketed(ids)), D.c.claimed_by == worker, *conditions)
        .values(**values)
    )


async def release_others(session: AsyncSession, worker: str) -> int:
    """Take back rows claimed by workers that stopped; return how many.

    Only the worker that alone may send calls this (the leader on PostgreSQL, the single
    process on SQLite): any other claim belongs to a worker that is gone. Those rows may have
    been sent just before it died without the outcome being stored; they are sent again,
    which is the bounded duplicate ``docs/broadcasts.md`` describes.
    """
    connection = await session.connection()
    result = await connection.execute(
        update(D)
        .where(
            D.c.state == DeliveryState.PENDING,
            D.c.claimed_by.is_not(None),
            D.c.claimed_by != worker,
        )
        .values(claimed_by=None, claimed_until=None)
    )
    return int(result.rowcount or 0)


async def outbox_depth(session: AsyncSession) -> int:
    """Deliveries waiting to be sent."""
    connection = await session.connection()
    statement = core_select(func.count()).select_from(D).where(D.c.state == DeliveryState.PENDING)
    return int((await connection.execute(statement)).scalar_one())
