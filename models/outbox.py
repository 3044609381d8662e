"""The outbox: broadcasts to audiences, and one delivery row per message to send.

Every message that is not a direct reply (broadcasts, and later reminders and follow-ups) is a
:class:`Delivery` row, written in the same transaction as the decision to send it; the delivery
worker (``bot/delivery.py``) claims due rows, sends them under the rate limits and records each
outcome here. Nothing about a message in flight lives only in memory, so a crash loses nothing.

A :class:`Broadcast` goes ``draft`` (staff are composing it; the draft *is* the conversation
state) → ``scheduled`` (confirmed; starts at ``scheduled_at``) → ``running`` ⇄ ``paused`` →
``done`` or ``cancelled``. When it starts, the worker writes its deliveries with
``INSERT … SELECT`` in batches of participant ids, each batch in one transaction with the
cursor that says how far it got; the unique ``(broadcast_id, participant_id)`` constraint makes
a repeated batch harmless, so nobody gets one broadcast twice. The audience is therefore
evaluated when the broadcast starts, not when it was confirmed: someone who withdrew consent
in between is left out, someone who joined is included.

Audiences are SQL conditions over the participant table (:data:`AUDIENCES`); every audience
also requires current consent and a reachable person. Add a kind by adding a condition there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    and_,
    exists,
    func,
    literal,
    or_,
    true,
    union,
    update,
)
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.answers import Response
from models.arenas import Arena, Subscription
from models.base import Text, UTCDateTime, utcnow
from models.participant import PRIVACY, PRIVACY_NOTICE_VERSION, Consent, Participant
from models.stops import not_stopped

logger = logging.getLogger(__name__)

#: Participants queued per transaction when a broadcast starts.
QUEUE_BATCH = 5000
#: Telegram's limit for a message text; an announcement keeps some room below it.
ANNOUNCEMENT_LIMIT = 4000


class BroadcastState(StrEnum):
    """Where a broadcast is in its life."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"


#: States in which a broadcast still has work ahead (or staff can still stop it).
ACTIVE_STATES = (BroadcastState.SCHEDULED, BroadcastState.RUNNING, BroadcastState.PAUSED)


class DeliveryState(StrEnum):
    """What became of one message."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up: repeated server errors or timeouts, or refused as bad
    UNREACHABLE = "unreachable"  # the person blocked the bot (403): never tried again
    CANCELLED = "cancelled"  # the broadcast was cancelled, or consent withdrawn, before sending


class AudienceKind(StrEnum):
    """Who a broadcast goes to (always among people who consented and are reachable)."""

    CONSENTED = "consented"  # everyone
    ARENA = "arena"  # current subscribers of an arena (ref: the arena id)
    UNFINISHED = "unfinished"  # started a consultation but did not finish (ref: its id)
    SOURCE = "source"  # came from a deep-link source (ref: the source)


class Broadcast(SQLModel, table=True):
    """A message to an audience: a consultation's invitation or a typed announcement."""

    __table_args__ = (Index("ix_broadcast_creator_state", "created_by", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    # The staff member's Telegram user id and private chat. Nullable, not a foreign key: staff
    # need not be participants, and erasing a person who was staff clears these.
    created_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    staff_language: str = Field(default="nb", max_length=5)
    state: str = Field(
        default=BroadcastState.DRAFT, sa_column=Column(String(16), nullable=False, index=True)
    )
    # While a draft: the step whose typed answer the staff member's next message is.
    step: str | None = Field(default=None, max_length=16)
    consultation_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("consultation.id", ondelete="CASCADE")),
    )
    # An announcement's HTML per language; ``language`` is the one it was written in first.
    text: Text | None = Field(default=None, sa_column=Column(JSON))
    language: str | None = Field(default=None, max_length=5)
    audience: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    urgent: bool = False  # sent during quiet hours too
    scheduled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    audience_size: int | None = None  # counted when confirmed
    # Participants with ids up to this one are queued; ``queued_at`` once all are.
    queued_through: int = 0
    queued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The staff chat's message that shows progress, edited in place.
    progress_message_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reported_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Delivery(SQLModel, table=True):
    """One message to one person: the outbox row the delivery worker sends."""

    __table_args__ = (
        # Nobody gets one broadcast twice. (Rows of no broadcast have NULL here: no limit.)
        UniqueConstraint("broadcast_id", "participant_id"),
        Index("ix_delivery_state_due", "state", "due_at"),
        Index("ix_delivery_broadcast_state", "broadcast_id", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("participant.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    broadcast_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("broadcast.id", ondelete="CASCADE")),
    )
    kind: str = Field(default="broadcast", sa_column=Column(String(16), nullable=False))
    # Rows of no broadcast carry their message: Bot API sendMessage fields but chat_id, or
    # sendDocument fields when there is a ``document`` (see bot/delivery.py).
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # What a reminder or follow-up is about (``event:12``, ``response:34``), so the decision
    # that makes it pointless (a changed RSVP, a finished consultation) can cancel it.
    ref: str | None = Field(default=None, sa_column=Column(String(40), index=True))
    due_at: datetime = Field(sa_type=UTCDateTime)
    # A message that is pointless later (a reminder after its event began, one that fell due
    # long ago while the bot was down) is dropped at claim time instead of sent late.
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    urgent: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    attempts: int = 0
    # A worker's claim, valid until ``claimed_until`` (a lease: a dead worker's claims lapse).
    claimed_by: str | None = Field(default=None, max_length=40)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    state: str = Field(default=DeliveryState.PENDING, sa_column=Column(String(16), nullable=False))
    detail: str | None = Field(default=None, max_length=200)  # why it failed
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


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


def _table(model: type[SQLModel]) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


P = _table(Participant)
D = _table(Delivery)
B = _table(Broadcast)


# ---------------------------------------------------------------------- quiet hours


@dataclass(frozen=True)
class QuietHours:
    """Local hours in which messages that are not urgent wait (``22-08``: 22:00 to 08:00)."""

    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: str) -> QuietHours | None:
        """Read ``HH-HH`` or ``HH:MM-HH:MM``; empty, ``off`` or ``none`` means no quiet hours.

        Raises:
            ValueError: for anything else, or a zone that does not exist.
        """
        value = text.strip().lower()
        if value in ("", "off", "none", "0"):
            return None
        first, sep, second = value.partition("-")
        if not sep:
            raise ValueError("write the hours as HH-HH, for example 22-08")
        start, end = _clock_time(first), _clock_time(second)
        if start == end:
            raise ValueError("the start and the end are the same")
        return cls(start, end, ZoneInfo(zone))

    def is_quiet(self, now: datetime) -> bool:
        """Tell whether ``now`` (aware) falls in the quiet hours."""
        local = now.astimezone(self.zone).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends(self, now: datetime) -> datetime:
        """When the quiet hours around ``now`` end (UTC); ``now`` itself when it is not quiet."""
        if not self.is_quiet(now):
            return now
        local = now.astimezone(self.zone)
        end = datetime.combine(local.date(), self.end, tzinfo=self.zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=self.zone)
        return end.astimezone(now.tzinfo)

    def __str__(self) -> str:
        """As an operator writes it: ``22:00-08:00``."""
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def _clock_time(text: str) -> time:
    hours, _, minutes = text.strip().partition(":")
    if not hours.isdigit() or (minutes and not minutes.isdigit()):
        raise ValueError(f"{text.strip()!r} is not an hour")
    hour, minute = int(hours), int(minutes or 0)
    if hour == 24 and minute == 0:
        hour = 0
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"{text.strip()!r} is not an hour")
    return time(hour, minute)


# ---------------------------------------------------------------------- audiences


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


def consent_condition() -> ColumnElement[bool]:
    """The participant's latest privacy decision accepts the current notice (as SQL).

    The same rule as :func:`models.participant.has_consented`, for whole tables at once.
    """
    c = _table(Consent).alias("c")
    later = _table(Consent).alias("later")
    newer = exists().where(
        later.c.participant_id == c.c.participant_id,
        later.c.kind == PRIVACY,
        or_(
            later.c.decided_at > c.c.decided_at,
            and_(later.c.decided_at == c.c.decided_at, later.c.id > c.c.id),
        ),
    )
    return exists().where(
        c.c.participant_id == P.c.id,
        c.c.kind == PRIVACY,
        c.c.granted.is_(True),
        c.c.withdrawn_at.is_(None),
        c.c.version == PRIVACY_NOTICE_VERSION,
        ~newer,
    )


def _everyone(audience: Audience) -> ColumnElement[bool]:
    return true()


def _arena_subscribers(audience: Audience) -> ColumnElement[bool]:
    s = _table(Subscription)
    return exists().where(
        s.c.participant_id == P.c.id,
        s.c.arena_id == audience.ref_id,
        s.c.withdrawn_at.is_(None),
    )


def _unfinished(audience: Audience) -> ColumnElement[bool]:
    r = _table(Response)
    return exists().where(
        r.c.participant_id == P.c.id,
        r.c.consultation_id == audience.ref_id,
        r.c.completed_at.is_(None),
    )


def _from_source(audience: Audience) -> ColumnElement[bool]:
    # The first-contact source, or the source of any consultation the person opened by link.
    r = _table(Response)
    return or_(
        P.c.source == audience.ref,
        exists().where(r.c.participant_id == P.c.id, r.c.source == audience.ref),
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


async def _connection(session: AsyncSession) -> AsyncConnection:
    # Table-level statements go through the connection: the ORM session wants mapped classes.
    return await session.connection()


async def count_audience(session: AsyncSession, audience: Audience) -> int:
    """How many people are in ``audience`` right now."""
    connection = await _connection(session)
    statement = core_select(func.count()).select_from(P).where(audience_condition(audience))
    return int((await connection.execute(statement)).scalar_one())


async def audience_languages(
    session: AsyncSession, audience: Audience, default: str
) -> dict[str, int]:
    """How many people in ``audience`` read each language (no language: ``default``)."""
    connection = await _connection(session)
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
    r = _table(Response)
    pairs = union(
        core_select(P.c.id.label("pid"), P.c.source.label("src")).where(P.c.source.is_not(None)),
        core_select(r.c.participant_id.label("pid"), r.c.source.label("src")).where(
            r.c.source.is_not(None)
        ),
    ).subquery()
    connection = await _connection(session)
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


# ---------------------------------------------------------------------- drafts and controls


async def current_draft(
    session: AsyncSession, telegram_user_id: int, *, since: datetime | None = None
) -> Broadcast | None:
    """The staff member's broadcast being composed (changed after ``since``), if any."""
    rows = await session.exec(
        select(Broadcast)
        .where(
            col(Broadcast.created_by) == telegram_user_id,
            col(Broadcast.state) == BroadcastState.DRAFT,
        )
        .order_by(col(Broadcast.id).desc())
        .limit(1)
    )
    draft = rows.first()
    if draft is not None and since is not None and draft.updated_at < since:
        return None
    return draft


async def new_draft(
    session: AsyncSession,
    telegram_user_id: int,
    chat_id: int,
    staff_language: str,
    now: datetime,
    consultation_id: int | None = None,
) -> Broadcast:
    """Start composing a broadcast; an earlier unfinished draft of the same person goes."""
    earlier = await session.exec(
        select(Broadcast).where(
            col(Broadcast.created_by) == telegram_user_id,
            col(Broadcast.state) == BroadcastState.DRAFT,
        )
    )
    for old in earlier.all():
        await session.delete(old)  # through the session: the loaded row leaves the identity map
    draft = Broadcast(
        created_by=telegram_user_id,
        chat_id=chat_id,
        staff_language=staff_language,
        consultation_id=consultation_id,
        step="audience" if consultation_id else "content",
        created_at=now,
        updated_at=now,
    )
    session.add(draft)
    await session.flush()
    return draft


class NotReady(ValueError):
    """A draft confirmed before it has content and an audience."""


def has_content(broadcast: Broadcast) -> bool:
    """Tell whether the broadcast has something to send."""
    return broadcast.consultation_id is not None or bool(broadcast.text)


async def confirm(
    session: AsyncSession, broadcast: Broadcast, now: datetime, progress_message_id: int | None
) -> int:
    """Decide to send: the draft becomes scheduled (for now, or its ``scheduled_at``).

    Returns:
        The number of people in the audience now (the worker counts again when it starts).

    Raises:
        NotReady: when the draft lacks content or an audience.
    """
    audience = Audience.from_json(broadcast.audience)
    if audience is None or not has_content(broadcast):
        raise NotReady("content and audience first")
    size = await count_audience(session, audience)
    broadcast.state = BroadcastState.SCHEDULED
    broadcast.step = None
    if broadcast.scheduled_at is None or broadcast.scheduled_at < now:
        broadcast.scheduled_at = now
    broadcast.audience_size = size
    broadcast.confirmed_at = now
    broadcast.updated_at = now
    broadcast.progress_message_id = progress_message_id
    await session.flush()
    return size


async def pause(session: AsyncSession, broadcast: Broadcast, now: datetime) -> bool:
    """Hold a running broadcast; False when it is not running."""
    if broadcast.state != BroadcastState.RUNNING:
        return False
    broadcast.state = BroadcastState.PAUSED
    broadcast.updated_at = now
    await session.flush()
    return True


async def resume(session: AsyncSession, broadcast: Broadcast, now: datetime) -> bool:
    """Carry on with a paused broadcast; False when it is not paused."""
    if broadcast.state != BroadcastState.PAUSED:
        return False
    broadcast.state = BroadcastState.RUNNING
    broadcast.updated_at = now
    await session.flush()
    return True


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
    connection = await _connection(session)
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
        broadcast.queued_at = now
        await session.flush()
        return 0
    condition = and_(P.c.id > broadcast.queued_through, audience_condition(audience))
    connection = await _connection(session)
    page = core_select(P.c.id).where(condition).order_by(P.c.id).limit(size).subquery()
    top = (await connection.execute(core_select(func.max(page.c.id)))).scalar_one()
    if top is None:
        broadcast.queued_at = now
        await session.flush()
        return 0
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
    broadcast.queued_through = int(top)
    broadcast.updated_at = now
    await session.flush()
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
    connection = await _connection(session)
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
    running = core_select(B.c.id).where(B.c.state == BroadcastState.RUNNING)
    conditions: list[ColumnElement[bool]] = [
        D.c.state == DeliveryState.PENDING,
        D.c.due_at <= now,
        or_(D.c.claimed_until.is_(None), D.c.claimed_until < wall_now),
        or_(D.c.broadcast_id.is_(None), D.c.broadcast_id.in_(running)),
    ]
    if quiet:
        conditions.append(D.c.urgent.is_(True))
    pick = (
        core_select(D.c.id)
        .where(*conditions)
        .order_by(D.c.due_at, D.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    connection = await _connection(session)
    claimed = (
        await connection.execute(
            update(D)
            .where(D.c.id.in_(pick.scalar_subquery()))
            .values(claimed_by=worker, claimed_until=wall_now + lease)
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
    if not claimed:
        return []
    people = {
        row.id: row
        for row in await connection.execute(
            core_select(
                P.c.id,
                P.c.chat_id,
                P.c.language,
                P.c.unreachable_at,
                not_stopped(P.c.id).label("receives"),
                consent_condition().label("consented"),
            ).where(P.c.id.in_(_bucketed({row.participant_id for row in claimed})))
        )
    }
    ready: list[Claim] = []
    unreachable: list[int] = []
    withdrawn: list[int] = []
    stopped: list[int] = []
    expired: dict[str, int] = {}
    expired_ids: list[int] = []
    for row in sorted(claimed, key=lambda r: r.id):
        person = people.get(row.participant_id)
        if person is None or person.unreachable_at is not None:
            unreachable.append(row.id)
        elif not person.consented:
            withdrawn.append(row.id)
        elif not person.receives:
            stopped.append(row.id)  # /stop cancels pending rows itself; this catches a race
        elif row.expires_at is not None and row.expires_at <= now:
            expired_ids.append(row.id)
            expired[row.kind] = expired.get(row.kind, 0) + 1
        else:
            ready.append(
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
    settle = [
        (DeliveryState.UNREACHABLE, unreachable, "blocked the bot earlier"),
        (DeliveryState.CANCELLED, withdrawn, "consent withdrawn"),
        (DeliveryState.CANCELLED, stopped, "stopped"),
        (DeliveryState.CANCELLED, expired_ids, "expired: too late to send"),
    ]
    if expired:
        # Kinds and counts only: who they were for is nobody's business in a log.
        logger.warning(
            "Dropped %d outbox messages that were too late to send (%s)",
            len(expired_ids),
            ", ".join(f"{kind}: {count}" for kind, count in sorted(expired.items())),
        )
    for state, ids, detail in settle:
        if ids:
            await connection.execute(
                update(D)
                .where(D.c.id.in_(_bucketed(ids)))
                .values(state=state, detail=detail, claimed_by=None, claimed_until=None)
            )
    return ready


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
    connection = await _connection(session)
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


async def release(session: AsyncSession, worker: str, delivery_ids: Iterable[int]) -> None:
    """Give claimed rows back unsent (a pause, a shutdown), for any worker to take."""
    ids = list(delivery_ids)
    if not ids:
        return
    connection = await _connection(session)
    await connection.execute(
        update(D)
        .where(D.c.id.in_(_bucketed(ids)), D.c.claimed_by == worker)
        .values(claimed_by=None, claimed_until=None)
    )


async def renew(
    session: AsyncSession, worker: str, delivery_ids: Iterable[int], until: datetime
) -> None:
    """Extend this worker's claims on rows it still holds."""
    ids = list(delivery_ids)
    if not ids:
        return
    connection = await _connection(session)
    await connection.execute(
        update(D)
        .where(
            D.c.id.in_(_bucketed(ids)),
            D.c.claimed_by == worker,
            D.c.state == DeliveryState.PENDING,
        )
        .values(claimed_until=until)
    )


async def release_others(session: AsyncSession, worker: str) -> int:
    """Take back rows claimed by workers that stopped; return how many.

    Only the worker that alone may send calls this (the leader on PostgreSQL, the single
    process on SQLite): any other claim belongs to a worker that is gone. Those rows may have
    been sent just before it died without the outcome being stored; they are sent again,
    which is the bounded duplicate ``docs/broadcasts.md`` describes.
    """
    connection = await _connection(session)
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
    connection = await _connection(session)
    statement = core_select(func.count()).select_from(D).where(D.c.state == DeliveryState.PENDING)
    return int((await connection.execute(statement)).scalar_one())


async def enqueue(
    session: AsyncSession,
    participant_id: int,
    payload: dict[str, Any],
    *,
    kind: str,
    due_at: datetime,
    urgent: bool = False,
    ref: str | None = None,
    expires_at: datetime | None = None,
) -> Delivery:
    """Queue one message that is not part of a broadcast (a reminder, a follow-up).

    Call it in the transaction that decides to send. ``payload`` holds Bot API
    ``sendMessage`` fields except ``chat_id`` (``text``, ``parse_mode``, ``reply_markup``), or
    ``sendDocument`` fields with a ``document``: a file id, or ``{"filename", "content",
    "mime_type"}`` for a small text file made for the message (an ``.ics``). ``ref`` names
    what it is about, for :func:`cancel_pending`; after ``expires_at`` it is dropped unsent.
    """
    delivery = Delivery(
        participant_id=participant_id,
        kind=kind,
        payload=payload,
        due_at=due_at,
        urgent=urgent,
        ref=ref,
        expires_at=expires_at,
    )
    session.add(delivery)
    await session.flush()
    return delivery


async def mark_unreachable(
    session: AsyncSession, telegram_user_id: int, now: datetime, *, reachable: bool = False
) -> bool:
    """Record that the person blocked the bot (or, with ``reachable``, unblocked it).

    Returns:
        True when the participant exists.
    """
    connection = await _connection(session)
    result = await connection.execute(
        update(P)
        .where(P.c.telegram_user_id == telegram_user_id)
        .values(unreachable_at=None if reachable else now)
    )
    return bool(result.rowcount)


async def cancel_pending(
    session: AsyncSession,
    *,
    participant_id: int | None = None,
    ref: str | None = None,
    kinds: Sequence[str] | None = None,
    detail: str = "cancelled",
) -> int:
    """Cancel unsent messages of one person, about one thing, or both; return how many.

    Call it in the transaction that makes them pointless. A row a worker is sending at this
    very moment still goes out (at most the sends in flight), as with a cancelled broadcast.
    """
    if participant_id is None and ref is None:
        raise ValueError("say whose messages or what they are about")
    conditions = [D.c.state == DeliveryState.PENDING]
    if participant_id is not None:
        conditions.append(D.c.participant_id == participant_id)
    if ref is not None:
        conditions.append(D.c.ref == ref)
    if kinds is not None:
        conditions.append(D.c.kind.in_(list(kinds)))
    connection = await _connection(session)
    result = await connection.execute(
        update(D)
        .where(*conditions)
        .values(state=DeliveryState.CANCELLED, detail=detail, claimed_by=None, claimed_until=None)
    )
    return int(result.rowcount or 0)
