"""Reminders: when they fall due, how late they may still go, and the reminder to finish.

Every reminder is an outbox row (:class:`models.outbox.Delivery`) with a ``due_at``, written in
the transaction that decides it, so a restart re-reads it and the delivery worker sends it once.
A reminder that fell due while the bot was down goes out when it is back, unless it is older
than ``max_age`` by then: its ``expires_at`` makes the worker drop it and log that.

The reminder to finish a consultation is decided by a job that runs every few seconds in every
replica: people who started, have not answered anything for ``finish_after`` and whose
consultation is still open. A :class:`FinishReminder` row per response, written with
``ON CONFLICT DO NOTHING`` in the same transaction as the outbox row, makes sure a person is
reminded once, even when two replicas run the job at the same moment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Column,
    ColumnElement,
    ForeignKey,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    exists,
    func,
    or_,
    type_coerce,
)
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from models.answers import Answer, Response
from models.base import UTCDateTime, table_of, utcnow
from models.consultation import Consultation, Status
from models.outbox.messages import cancel_pending
from models.outbox.quiet_hours import QuietHours
from models.outbox.tables import D, DeliveryState
from models.participant import Participant, consent_condition
from models.stops import not_stopped

#: Outbox kinds of reminders (the names operators see in the delivery table and logs).
FINISH_KIND = "remind-finish"
EVENT_KIND = "remind-event"
#: Responses looked at per transaction by the finish-reminder job.
FINISH_BATCH = 500

Payload = dict[str, Any]


@dataclass(frozen=True)
class ReminderPolicy:
    """When reminders are due and how late they may go; built from the settings.

    Attributes:
        zone: the time zone people live in (``TIMEZONE``); whole-day offsets keep its clock.
        event_hours: event reminders, in hours before the start (``EVENT_REMINDERS``).
        finish_after: the reminder to finish comes this long after the last answer; None: off.
        max_age: a reminder later than this (after quiet hours) is dropped, not sent.
        quiet: the quiet hours, which delay reminders that are not urgent.
        default_language: for people who never chose one.
    """

    zone: str = "Europe/Oslo"
    event_hours: tuple[float, ...] = (24.0, 2.0)
    finish_after: timedelta | None = timedelta(hours=24)
    max_age: timedelta = timedelta(hours=12)
    quiet: QuietHours | None = None
    default_language: str = "nb"

    def expires(self, due: datetime, limit: datetime | None = None) -> datetime:
        """When a message due at ``due`` is too late to send.

        ``max_age`` counts from when it could first go out (after quiet hours), so a reminder
        held overnight is not dropped for that; ``limit`` (an event's start) caps it.
        """
        first = self.quiet.ends(due) if self.quiet is not None else due
        expiry = first + self.max_age
        return expiry if limit is None else min(expiry, limit)

    def language_of(self, participant_language: str | None) -> str:
        """The language to write to a person in."""
        return participant_language or self.default_language


def reminder_time(starts_at: datetime, hours: float, zone: str) -> datetime:
    """When a reminder ``hours`` before ``starts_at`` is due (UTC).

    Whole days keep the local clock: "24 hours before" an event at 18:00 is 18:00 the day
    before, also when a daylight-saving change lies between (then it is 23 or 25 real hours).
    Other offsets are real durations: "2 hours before" is two hours before.
    """
    if hours > 0 and float(hours).is_integer() and int(hours) % 24 == 0:
        # Arithmetic on an aware datetime keeps its wall clock; the offset is worked out anew.
        local = starts_at.astimezone(ZoneInfo(zone))
        return (local - timedelta(days=int(hours) // 24)).astimezone(UTC)
    return starts_at - timedelta(hours=hours)


class FinishReminder(SQLModel, table=True):
    """The one reminder to finish a response; its key makes a second one impossible."""

    __tablename__ = "finish_reminder"

    response_id: int = Field(
        sa_column=Column(Integer, ForeignKey("response.id", ondelete="CASCADE"), primary_key=True)
    )
    delivery_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("delivery.id", ondelete="SET NULL"), index=True),
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


R = table_of(Response)
A = table_of(Answer)
C = table_of(Consultation)
P = table_of(Participant)
F = table_of(FinishReminder)


@dataclass(frozen=True)
class Unfinished:
    """A response that should get its reminder to finish."""

    response_id: int
    participant_id: int
    consultation_id: int
    language: str | None
    due_at: datetime
    closes_at: datetime | None = field(default=None)


def _still_open(now: datetime) -> ColumnElement[bool]:
    return and_(
        C.c.status == Status.OPEN.value,
        or_(C.c.opens_at.is_(None), C.c.opens_at <= now),
        or_(C.c.closes_at.is_(None), C.c.closes_at > now),
    )


def _unfinished_statement(now: datetime, after: timedelta, limit: int) -> Select[Any]:
    last_answer = (
        core_select(func.max(A.c.answered_at)).where(A.c.response_id == R.c.id).scalar_subquery()
    )
    last = type_coerce(func.coalesce(last_answer, R.c.started_at), UTCDateTime())
    return (
        core_select(
            R.c.id, R.c.participant_id, R.c.consultation_id, P.c.language, last, C.c.closes_at
        )
        .join(P, P.c.id == R.c.participant_id)
        .join(C, C.c.id == R.c.consultation_id)
        .where(
            R.c.completed_at.is_(None),
            R.c.started_at <= now - after,  # cheap, and implied by the last answer's age
            _still_open(now),
            last <= now - after,
            ~exists().where(F.c.response_id == R.c.id),
            P.c.unreachable_at.is_(None),
            not_stopped(P.c.id),
            consent_condition(),
        )
        .order_by(R.c.id)
        .limit(limit)
    )


async def unfinished_to_remind(
    session: AsyncSession, now: datetime, after: timedelta, limit: int = FINISH_BATCH
) -> list[Unfinished]:
    """Responses due a reminder to finish: no answer for ``after``, still open, never reminded.

    Only people who consented, can be reached and did not send /stop.
    """
    connection = await session.connection()
    rows = (await connection.execute(_unfinished_statement(now, after, limit))).all()
    return [Unfinished(int(r[0]), int(r[1]), int(r[2]), r[3], r[4] + after, r[5]) for r in rows]


async def queue_finish_reminders(
    session: AsyncSession,
    candidates: Sequence[Unfinished],
    now: datetime,
    policy: ReminderPolicy,
    payload: Callable[[Unfinished], Payload],
) -> int:
    """Write the reminder of each candidate that nobody has reminded yet; return how many.

    The :class:`FinishReminder` insert skips responses another replica claimed a moment ago
    (it waits for that transaction on PostgreSQL, then skips), so only the winner queues.
    """
    if not candidates:
        return 0
    connection = await session.connection()
    won = await _claim_responses(connection, [c.response_id for c in candidates], now)
    mine = [c for c in candidates if c.response_id in won]
    if not mine:
        return 0
    # One multi-row insert for the outbox rows, one executemany to link them: a batch costs a
    # few statements, not a few per person.
    written = (
        await connection.execute(
            _insert(connection, D)
            .values([_reminder_row(c, policy, payload(c)) for c in mine])
            .returning(D.c.id, D.c.ref)
        )
    ).all()
    await connection.execute(
        F.update().where(F.c.response_id == bindparam("rid")).values(delivery_id=bindparam("did")),
        [{"rid": int(ref.split(":")[1]), "did": int(did)} for did, ref in written],
    )
    return len(written)


def _insert(connection: AsyncConnection, table: Table) -> PgInsert | SqliteInsert:
    """An insert in the connection's dialect (both know ``ON CONFLICT`` and ``RETURNING``)."""
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    return insert(table)


async def _claim_responses(
    connection: AsyncConnection, response_ids: list[int], now: datetime
) -> set[int]:
    """Write the responses' :class:`FinishReminder` rows; return those written here."""
    rows = await connection.execute(
        _insert(connection, F)
        .values([{"response_id": r, "created_at": now} for r in response_ids])
        .on_conflict_do_nothing()
        .returning(F.c.response_id)
    )
    return {int(row[0]) for row in rows.all()}


def _reminder_row(candidate: Unfinished, policy: ReminderPolicy, payload: Payload) -> Payload:
    """The outbox row of one reminder to finish."""
    return {
        "participant_id": candidate.participant_id,
        "kind": FINISH_KIND,
        "payload": payload,
        "ref": f"response:{candidate.response_id}",
        "due_at": candidate.due_at,
        "expires_at": policy.expires(candidate.due_at, candidate.closes_at),
        "urgent": False,
        "attempts": 0,
        "state": DeliveryState.PENDING.value,
    }


async def cancel_finish_reminder(session: AsyncSession, response_id: int) -> int:
    """The person finished: their reminder to finish is not sent (if it is still waiting)."""
    return await cancel_pending(
        session, ref=f"response:{response_id}", kinds=[FINISH_KIND], detail="finished"
    )


async def cancel_pointless_finish_reminders(session: AsyncSession, now: datetime) -> int:
    """Cancel waiting reminders whose response was finished or whose consultation closed."""
    pointless = (
        core_select(F.c.delivery_id)
        .join(R, R.c.id == F.c.response_id)
        .join(C, C.c.id == R.c.consultation_id)
        .join(D, D.c.id == F.c.delivery_id)
        .where(
            D.c.state == DeliveryState.PENDING,
            or_(R.c.completed_at.is_not(None), ~_still_open(now)),
        )
    )
    connection = await session.connection()
    ids = [int(row[0]) for row in (await connection.execute(pointless)).all()]
    if not ids:
        return 0
    result = await connection.execute(
        D.update()
        .where(D.c.id.in_(ids), D.c.state == DeliveryState.PENDING)
        .values(
            state=DeliveryState.CANCELLED,
            detail="finished or closed",
            claimed_by=None,
            claimed_until=None,
        )
    )
    return int(result.rowcount or 0)
