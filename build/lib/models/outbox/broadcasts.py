"""A broadcast's life once confirmed: started when due, queued, paused or cancelled, finished.

When a broadcast starts, the worker writes its deliveries with ``INSERT … SELECT`` in batches of
participant ids, each batch in one transaction with the cursor that says how far it got; the
unique ``(broadcast_id, participant_id)`` constraint makes a repeated batch harmless, so nobody
gets one broadcast twice. The audience is therefore evaluated when the broadcast starts, not
when it was confirmed: someone who withdrew consent in between is left out, someone who joined
is included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, literal, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime, table_of
from models.outbox.audiences import Audience, audience_condition
from models.outbox.tables import (
    ACTIVE_STATES,
    Broadcast,
    BroadcastState,
    D,
    Delivery,
    DeliveryState,
)
from models.participant import Participant

#: Participants queued per transaction when a broadcast starts.
QUEUE_BATCH = 5000

P = table_of(Participant)


# ---------------------------------------------------------------------- what staff do


async def _move(
    session: AsyncSession,
    broadcast: Broadcast,
    now: datetime,
    *,
    from_state: BroadcastState,
    to_state: BroadcastState,
) -> bool:
    """Move the broadcast from one state to another; False when it is not in ``from_state``."""
    if broadcast.state != from_state:
        return False
    broadcast.state = to_state
    broadcast.updated_at = now
    await session.flush()
    return True


async def pause(session: AsyncSession, broadcast: Broadcast, now: datetime) -> bool:
    """Hold a running broadcast; False when it is not running."""
    return await _move(
        session, broadcast, now, from_state=BroadcastState.RUNNING, to_state=BroadcastState.PAUSED
    )


async def resume(session: AsyncSession, broadcast: Broadcast, now: datetime) -> bool:
    """Carry on with a paused broadcast; False when it is not paused."""
    return await _move(
        session, broadcast, now, from_state=BroadcastState.PAUSED, to_state=BroadcastState.RUNNING
    )


async def cancel(session: AsyncSession, broadcast: Broadcast, now: datetime) -> bool:
    """Stop a scheduled, running or paused broadcast for good; its unsent rows are cancelled.

    A message already handed to Telegram when this commits is still recorded as sent.
    """
    if broadcast.state not in ACTIVE_STATES:
        return False
    broadcast.state = BroadcastState.CANCELLED
    broadcast.finished_at = now
    broadcast.updated_at = now
    await session.flush()
    await session.exec(
        update(Delivery)  # type: ignore[call-overload]
        .where(D.c.broadcast_id == broadcast.id, D.c.state == DeliveryState.PENDING)
        .values(state=DeliveryState.CANCELLED, claimed_by=None, claimed_until=None)
    )
    return True


async def active_broadcasts(session: AsyncSession) -> list[Broadcast]:
    """Broadcasts that are scheduled, running or paused, oldest first."""
    rows = await session.exec(
        select(Broadcast)
        .where(col(Broadcast.state).in_([s.value for s in ACTIVE_STATES]))
        .order_by(col(Broadcast.id))
    )
    return list(rows.all())


@dataclass
class Counts:
    """A broadcast's deliveries by state."""

    pending: int = 0
    sent: int = 0
    failed: int = 0
    unreachable: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        """Every delivery written so far."""
        return self.pending + self.sent + self.failed + self.unreachable + self.cancelled


async def delivery_counts(session: AsyncSession, broadcast_id: int) -> Counts:
    """Count the broadcast's deliveries by state."""
    # Table-level statements go through the connection: the ORM session wants mapped classes.
    connection = await session.connection()
    rows = await connection.execute(
        core_select(D.c.state, func.count())
        .where(D.c.broadcast_id == broadcast_id)
        .group_by(D.c.state)
    )
    counts = Counts()
    for state, number in rows.all():
        if state in DeliveryState.__members__.values():
            setattr(counts, str(state), int(number))
    return counts


# ---------------------------------------------------------------------- what the worker does


async def start_due(session: AsyncSession, now: datetime) -> list[Broadcast]:
    """Start the scheduled broadcasts whose time has come."""
    rows = await session.exec(
        select(Broadcast).where(
            col(Broadcast.state) == BroadcastState.SCHEDULED,
            col(Broadcast.scheduled_at) <= now,
        )
    )
    started = list(rows.all())
    for broadcast in started:
        broadcast.state = BroadcastState.RUNNING
        broadcast.started_at = now
        broadcast.updated_at = now
    await session.flush()
    return started


async def queue_batch(
    session: AsyncSession, broadcast: Broadcast, now: datetime, size: int = QUEUE_BATCH
) -> int:
    """Write the deliveries of the broadcast's next ``size`` participants; return how many.

    One ``INSERT … SELECT``: no participant is loaded into memory. Sets ``queued_at`` once
    nobody is left. Safe to repeat: the unique constraint skips anyone already queued.
    """
    audience = Audience.from_json(broadcast.audience)
    assert broadcast.id is not None
    if audience is None:
        return await _all_queued(session, broadcast, now)
    condition = and_(P.c.id > broadcast.queued_through, audience_condition(audience))
    connection = await session.connection()
    page = core_select(P.c.id).where(condition).order_by(P.c.id).limit(size).subquery()
    top = (await connection.execute(core_select(func.max(page.c.id)))).scalar_one()
    if top is None:
        return await _all_queued(session, broadcast, now)
    written = await _write_deliveries(connection, broadcast, condition, int(top), now)
    broadcast.queued_through = int(top)
    broadcast.updated_at = now
    await session.flush()
    return written


async def _all_queued(session: AsyncSession, broadcast: Broadcast, now: datetime) -> int:
    """Nobody is left to queue: every delivery of the broadcast is written."""
    broadcast.queued_at = now
    await session.flush()
    return 0


async def _write_deliveries(
    connection: AsyncConnection,
    broadcast: Broadcast,
    condition: ColumnElement[bool],
    top: int,
    now: datetime,
) -> int:
    """Insert a delivery for everyone meeting ``condition`` up to participant ``top``."""
    rows = core_select(
        P.c.id,
        literal(broadcast.id),
        literal("broadcast"),
        literal(broadcast.started_at or now, UTCDateTime()),
        literal(broadcast.urgent),
        literal(0),
        literal(DeliveryState.PENDING.value),
    ).where(condition, P.c.id <= top)
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(D)
        .from_select(
            ["participant_id", "broadcast_id", "kind", "due_at", "urgent", "attempts", "state"],
            rows,
        )
        .on_conflict_do_nothing()
    )
    written = (await connection.execute(statement)).rowcount
    return int(written or 0)


async def broadcasts_to_queue(session: AsyncSession) -> list[Broadcast]:
    """Started broadcasts whose deliveries are not all written yet."""
    rows = await session.exec(
        select(Broadcast).where(
            col(Broadcast.state).in_([BroadcastState.RUNNING, BroadcastState.PAUSED]),
            col(Broadcast.queued_at).is_(None),
        )
    )
    return list(rows.all())


async def finish_if_done(session: AsyncSession, broadcast: Broadcast, now: datetime) -> bool:
    """Mark a running broadcast done once all its deliveries are written and settled."""
    if broadcast.state != BroadcastState.RUNNING or broadcast.queued_at is None:
        return False
    connection = await session.connection()
    pending = (
        await connection.execute(
            core_select(D.c.id)
            .where(D.c.broadcast_id == broadcast.id, D.c.state == DeliveryState.PENDING)
            .limit(1)
        )
    ).first()
    if pending is not None:
        return False
    broadcast.state = BroadcastState.DONE
    broadcast.finished_at = now
    broadcast.updated_at = now
    await session.flush()
    return True


async def unreported(session: AsyncSession) -> list[Broadcast]:
    """Finished or cancelled broadcasts whose staff member has not had the report yet."""
    rows = await session.exec(
        select(Broadcast).where(
            col(Broadcast.state).in_([BroadcastState.DONE, BroadcastState.CANCELLED]),
            col(Broadcast.reported_at).is_(None),
            col(Broadcast.confirmed_at).is_not(None),
        )
    )
    return list(rows.all())
