"""Events of an arena and who comes: invitations, answers, a waiting list and reminders.

Staff compose an event as a draft (the draft row *is* the conversation: a restart or another
replica carries on where they were), then publish it. Publishing writes, in the same
transaction, an invitation and a calendar file to every current subscriber of the arena
through the outbox. People answer yes, maybe or no with one tap and can change their mind.
An event with a capacity takes yes answers until it is full; then a person may join the
waiting list, and the first on it moves up (and is told) when a place comes free.

Reminders are outbox rows written when someone says yes, due :attr:`ReminderPolicy.event_hours`
before the start, and cancelled in the same transaction when the answer changes or the event is
cancelled. Each expires when the event begins, so none arrives after it.

What the messages say is not decided here: the caller passes :class:`EventMessages`, which
renders each one as Bot API fields in the recipient's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy import Text as SQLText
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.arenas import Arena
from models.base import UTCDateTime, utcnow
from models.drafts import start_draft
from models.outbox.audiences import Audience, AudienceKind, audience_condition, count_audience
from models.outbox.messages import cancel_pending, enqueue, enqueue_for_everyone
from models.outbox.quiet_hours import QuietHours
from models.participant import Participant
from models.reminders import EVENT_KIND, ReminderPolicy, reminder_time
from models.stops import not_stopped

TITLE_LIMIT = 100
PLACE_LIMIT = 200
DESCRIPTION_LIMIT = 1500
CAPACITY_LIMIT = 100_000
#: How long an event lasts when staff give only its start (the calendar file needs an end).
DEFAULT_LENGTH = timedelta(hours=2)
#: Subscribers invited per statement when an event is published.
INVITE_BATCH = 1000

INVITATION_KIND = "invitation"
CALENDAR_KIND = "calendar"
UPDATE_KIND = "event-update"

Payload = dict[str, Any]


class EventState(StrEnum):
    """Where an event is in its life."""

    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class RsvpAnswer(StrEnum):
    """A person's answer to an invitation."""

    YES = "yes"
    MAYBE = "maybe"
    NO = "no"
    WAITING = "waiting"  # wanted to come when it was full: on the waiting list


class Event(SQLModel, table=True):
    """A meeting of an arena: a focus group, a dialogue meeting, a volunteers' evening."""

    __table_args__ = (Index("ix_event_creator_state", "created_by", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    arena_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("arena.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    state: str = Field(default=EventState.DRAFT, sa_column=Column(String(16), nullable=False))
    # While a draft: the field the staff member's next typed message fills.
    # The staff member's Telegram user id and chat. Not foreign keys: staff need not be
    # participants (erasing one who was clears these).
    created_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    staff_language: str = Field(default="nb", max_length=5)
    title: str | None = Field(default=None, sa_column=Column(String(TITLE_LIMIT)))
    place: str | None = Field(default=None, sa_column=Column(String(PLACE_LIMIT)))
    description: str | None = Field(default=None, sa_column=Column(SQLText))
    capacity: int | None = None  # None: no limit
    starts_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    invited: int = 0  # subscribers invited when it was published
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def ref(self) -> str:
        """How outbox rows about this event name it."""
        return f"event:{self.id}"

    @property
    def end(self) -> datetime:
        """The end, or the start plus :data:`DEFAULT_LENGTH`."""
        assert self.starts_at is not None
        return self.ends_at or self.starts_at + DEFAULT_LENGTH


class Rsvp(SQLModel, table=True):
    """One person's answer to one event; changing it replaces it."""

    __table_args__ = (UniqueConstraint("event_id", "participant_id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("event.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    participant_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("participant.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    answer: str = Field(sa_column=Column(String(8), nullable=False))
    answered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Order on the waiting list: earliest first.
    waiting_since: datetime | None = Field(default=None, sa_type=UTCDateTime)


class EventMessages(Protocol):
    """Renders what people get about events, as Bot API fields, in ``language``."""

    def invitation(self, event: Event, arena: Arena, language: str) -> Payload:
        """The invitation with the answer buttons."""
        ...

    def calendar(self, event: Event, arena: Arena, language: str) -> Payload:
        """The calendar file that follows the invitation (a ``document`` payload)."""
        ...

    def reminder(self, event: Event, language: str) -> Payload:
        """A reminder to someone who said yes."""
        ...

    def promoted(self, event: Event, language: str) -> Payload:
        """A place came free and the person on the waiting list has it now."""
        ...

    def cancelled(self, event: Event, language: str) -> Payload:
        """The event is cancelled."""
        ...


class EventProblem(ValueError):
    """An event that cannot be saved or published as it is; ``code`` names the rule.

    Codes: ``empty``, ``too_long``, ``past``, ``ends_first``, ``capacity``, ``incomplete``,
    ``not_draft``, ``not_published``.
    """

    def __init__(self, code: str, limit: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.limit = limit


class RsvpRefused(Exception):
    """An answer that cannot be taken: ``gone`` (no such event), ``cancelled``, ``started``."""

    def __init__(self, reason: str, event: Event | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.event = event


# ---------------------------------------------------------------------- composing


def check_text(text: str, limit: int) -> str:
    """A title, place or description as stored: stripped, not empty, within ``limit``."""
    cleaned = text.strip()
    if not cleaned:
        raise EventProblem("empty")
    if len(cleaned) > limit:
        raise EventProblem("too_long", limit)
    return cleaned


def check_times(starts_at: datetime, ends_at: datetime | None, now: datetime) -> None:
    """An event starts in the future and ends after it starts."""
    if starts_at <= now:
        raise EventProblem("past")
    if ends_at is not None and ends_at <= starts_at:
        raise EventProblem("ends_first")


def check_capacity(capacity: int | None) -> None:
    """A capacity is at least one place (None: no limit)."""
    if capacity is not None and not 1 <= capacity <= CAPACITY_LIMIT:
        raise EventProblem("capacity", CAPACITY_LIMIT)


async def new_draft(
    session: AsyncSession,
    arena_id: int,
    created_by: int,
    chat_id: int,
    language: str,
    now: datetime,
) -> Event:
    """Start composing an event for the arena."""
    return await start_draft(session, Event(arena_id=arena_id), created_by, chat_id, language, now)


def is_complete(event: Event) -> bool:
    """A draft has everything an invitation needs (description and capacity are optional)."""
    return bool(event.title and event.place and event.starts_at)


def _check_publishable(event: Event, now: datetime) -> None:
    """A draft that is complete, in the future, and has a sensible capacity."""
    if event.state != EventState.DRAFT:
        raise EventProblem("not_draft")
    if not is_complete(event):
        raise EventProblem("incomplete")
    assert event.starts_at is not None
    check_times(event.starts_at, event.ends_at, now)
    check_capacity(event.capacity)


async def count_invitees(session: AsyncSession, arena_id: int) -> int:
    """How many people an event of the arena would invite now."""
    return await count_audience(session, _invitees(arena_id))


def _invitees(arena_id: int | None) -> Audience:
    """Who an event of the arena invites: its current subscribers."""
    return Audience(AudienceKind.ARENA, str(arena_id))


async def publish(
    session: AsyncSession,
    event: Event,
    now: datetime,
    messages: EventMessages,
    policy: ReminderPolicy,
) -> int:
    """Publish a draft: invite every current subscriber of its arena; return how many.

    Invitations and calendar files are outbox rows written here, in batches of participant
    ids (nobody is loaded as an object), and expire when the event begins.

    Raises:
        EventProblem: ``not_draft``, ``incomplete``, or ``past`` when its time has passed.
    """
    _check_publishable(event, now)
    arena = await session.get(Arena, event.arena_id)
    assert arena is not None
    event.state = EventState.PUBLISHED
    event.published_at = now
    event.updated_at = now
    await session.flush()
    event.invited = await enqueue_for_everyone(
        session,
        audience_condition(_invitees(arena.id)),
        lambda code: [
            (INVITATION_KIND, messages.invitation(event, arena, code)),
            (CALENDAR_KIND, messages.calendar(event, arena, code)),
        ],
        policy.language_of,
        ref=event.ref,
        now=now,
        expires_at=event.starts_at,
        batch=INVITE_BATCH,
    )
    await session.flush()
    return event.invited


async def cancel(
    session: AsyncSession,
    event: Event,
    now: datetime,
    messages: EventMessages,
    policy: ReminderPolicy,
) -> int:
    """Cancel a published event; return how many people (yes, maybe, waiting) are told.

    Its invitations and reminders still waiting are not sent; the news of the cancellation is.

    Raises:
        EventProblem: ``not_published`` (a draft, or cancelled already).
    """
    if event.state != EventState.PUBLISHED:
        raise EventProblem("not_published")
    event.state = EventState.CANCELLED
    event.cancelled_at = now
    event.updated_at = now
    await session.flush()
    await cancel_pending(session, ref=event.ref, detail="event cancelled")
    assert event.starts_at is not None
    if event.starts_at <= now:
        return 0
    coming = await _coming(session, event)
    for person in coming:
        payload = messages.cancelled(event, policy.language_of(person.language))
        await _tell(session, event, person, payload, now, policy.quiet)
    return len(coming)


async def _coming(session: AsyncSession, event: Event) -> list[Participant]:
    """Who said yes or maybe, or waits for a place, and can still be told."""
    rows = await session.exec(
        select(Rsvp, Participant)
        .join(Participant, col(Participant.id) == col(Rsvp.participant_id))
        .where(
            col(Rsvp.event_id) == event.id,
            col(Rsvp.answer).in_([RsvpAnswer.YES, RsvpAnswer.MAYBE, RsvpAnswer.WAITING]),
            col(Participant.unreachable_at).is_(None),
            not_stopped(col(Participant.id)),
        )
    )
    return [person for _rsvp, person in rows.all()]


async def _tell(
    session: AsyncSession,
    event: Event,
    person: Participant,
    payload: Payload,
    now: datetime,
    quiet: QuietHours | None,
) -> None:
    """Send the person news of the event now; it expires when the event begins."""
    assert event.starts_at is not None
    # Someone who would travel to it must hear in time, quiet hours or not.
    urgent = quiet is not None and quiet.ends(now) >= event.starts_at
    await enqueue(
        session,
        person.id or 0,
        payload,
        kind=UPDATE_KIND,
        due_at=now,
        urgent=urgent,
        ref=event.ref,
        expires_at=event.starts_at,
    )


# ---------------------------------------------------------------------- answering


@dataclass
class Counts:
    """An event's answers by kind."""

    yes: int = 0
    maybe: int = 0
    no: int = 0
    waiting: int = 0


@dataclass
class RsvpResult:
    """What became of a tap on an answer button."""

    event: Event
    answer: RsvpAnswer | None  # the person's answer now (None: they never answered)
    changed: bool = False
    full: bool = False  # asked for a place and there is none: nothing changed
    position: int | None = None  # place on the waiting list
    promoted: int | None = None  # the participant who moved up from the waiting list


async def rsvp_of(session: AsyncSession, event_id: int, participant_id: int) -> Rsvp | None:
    """The person's answer to the event, if any."""
    rows = await session.exec(
        select(Rsvp).where(
            col(Rsvp.event_id) == event_id, col(Rsvp.participant_id) == participant_id
        )
    )
    return rows.first()


async def counts(session: AsyncSession, event_id: int) -> Counts:
    """Count the event's answers."""
    rows = await session.exec(
        select(Rsvp.answer, func.count())
        .where(col(Rsvp.event_id) == event_id)
        .group_by(col(Rsvp.answer))
    )
    found = Counts()
    for answer, number in rows.all():
        if answer in RsvpAnswer.__members__.values():
            setattr(found, str(answer), int(number))
    return found


async def waiting_position(session: AsyncSession, rsvp: Rsvp) -> int | None:
    """The person's place on the waiting list (1 is next), or None when not on it."""
    if rsvp.answer != RsvpAnswer.WAITING or rsvp.waiting_since is None:
        return None
    ahead = await session.exec(
        select(func.count()).where(
            col(Rsvp.event_id) == rsvp.event_id,
            col(Rsvp.answer) == RsvpAnswer.WAITING,
            (col(Rsvp.waiting_since) < rsvp.waiting_since)
            | ((col(Rsvp.waiting_since) == rsvp.waiting_since) & (col(Rsvp.id) < rsvp.id)),
        )
    )
    return int(ahead.one()) + 1


async def _locked_event(session: AsyncSession, event_id: int) -> Event | None:
    # FOR UPDATE on PostgreSQL: two people taking the last place are served one after the
    # other, so the capacity holds. SQLite has one writer at a time anyway.
    rows = await session.exec(
        select(Event)
        .where(col(Event.id) == event_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return rows.first()


async def _open_event(session: AsyncSession, event_id: int, now: datetime) -> Event:
    """The event, locked for this answer, if it still takes answers; else why not."""
    event = await _locked_event(session, event_id)
    if event is None or event.state == EventState.DRAFT:
        raise RsvpRefused("gone")
    if event.state == EventState.CANCELLED:
        raise RsvpRefused("cancelled", event)
    assert event.starts_at is not None
    if event.starts_at <= now:
        raise RsvpRefused("started", event)
    return event


async def _wanted(
    session: AsyncSession, event: Event, choice: RsvpAnswer, before: RsvpAnswer | None
) -> RsvpAnswer | None:
    """The answer to store for ``choice``; None when a yes finds the event full.

    A yes without a free place is a place on the waiting list for someone already on it;
    asking for the waiting list when there is room (or with a place already) is a yes.
    """
    if choice in (RsvpAnswer.YES, RsvpAnswer.WAITING) and before != RsvpAnswer.YES:
        if event.capacity is None or (await counts(session, event.id or 0)).yes < event.capacity:
            return RsvpAnswer.YES
        if choice == RsvpAnswer.YES and before != RsvpAnswer.WAITING:
            return None
        return RsvpAnswer.WAITING
    if choice == RsvpAnswer.WAITING:
        return RsvpAnswer.YES  # already has a place: keep it
    return choice


async def _record(session: AsyncSession, rsvp: Rsvp, answer: RsvpAnswer, now: datetime) -> None:
    """Store the answer; on the waiting list, the time orders the list."""
    session.add(rsvp)
    rsvp.answer = answer
    rsvp.answered_at = now
    rsvp.waiting_since = now if answer == RsvpAnswer.WAITING else None
    await session.flush()


async def answer(
    session: AsyncSession,
    event_id: int,
    participant: Participant,
    choice: RsvpAnswer,
    now: datetime,
    messages: EventMessages,
    policy: ReminderPolicy,
) -> RsvpResult:
    """Take a person's answer (yes, maybe, no, or "put me on the waiting list").

    Yes to a full event changes nothing and says so (``full``): the person may then join the
    waiting list. Leaving a yes frees a place for the first on the waiting list.

    Raises:
        RsvpRefused: the event does not exist (or is a draft), is cancelled, or has begun.
    """
    event = await _open_event(session, event_id, now)
    pid = participant.id or 0
    current = await rsvp_of(session, event_id, pid)
    before = RsvpAnswer(current.answer) if current is not None else None
    wanted = await _wanted(session, event, choice, before)
    if wanted is None:
        return RsvpResult(event, before, full=True)
    if wanted == before:
        assert current is not None
        return RsvpResult(event, before, position=await waiting_position(session, current))
    if current is None:
        current = Rsvp(event_id=event_id, participant_id=pid, answer=wanted, answered_at=now)
    await _record(session, current, wanted, now)
    result = RsvpResult(event, wanted, changed=True)
    if wanted == RsvpAnswer.YES:
        await schedule_reminders(session, event, participant, now, messages, policy)
    if before == RsvpAnswer.YES:
        await cancel_reminders(session, event, pid)
        result.promoted = await _promote(session, event, now, messages, policy)
    result.position = await waiting_position(session, current)
    return result


async def _promote(
    session: AsyncSession,
    event: Event,
    now: datetime,
    messages: EventMessages,
    policy: ReminderPolicy,
) -> int | None:
    """Give a free place to the first on the waiting list and tell them; their participant id."""
    if event.capacity is None or (await counts(session, event.id or 0)).yes >= event.capacity:
        return None
    first = (
        await session.exec(
            select(Rsvp, Participant)
            .join(Participant, col(Participant.id) == col(Rsvp.participant_id))
            .where(col(Rsvp.event_id) == event.id, col(Rsvp.answer) == RsvpAnswer.WAITING)
            .order_by(col(Rsvp.waiting_since), col(Rsvp.id))
            .limit(1)
        )
    ).first()
    if first is None:
        return None
    rsvp, person = first
    rsvp.answer = RsvpAnswer.YES
    rsvp.answered_at = now
    rsvp.waiting_since = None
    await session.flush()
    payload = messages.promoted(event, policy.language_of(person.language))
    await _tell(session, event, person, payload, now, policy.quiet)
    await schedule_reminders(session, event, person, now, messages, policy)
    return person.id


async def schedule_reminders(
    session: AsyncSession,
    event: Event,
    participant: Participant,
    now: datetime,
    messages: EventMessages,
    policy: ReminderPolicy,
) -> int:
    """Write the person's reminders of the event that are still ahead; return how many."""
    assert event.starts_at is not None
    language = policy.language_of(participant.language)
    written = 0
    for hours in sorted(set(policy.event_hours), reverse=True):
        due = reminder_time(event.starts_at, hours, policy.zone)
        if due <= now:
            continue  # said yes later than this reminder would have come
        await enqueue(
            session,
            participant.id or 0,
            messages.reminder(event, language),
            kind=EVENT_KIND,
            due_at=due,
            ref=event.ref,
            expires_at=policy.expires(due, event.starts_at),
        )
        written += 1
    return written


async def cancel_reminders(session: AsyncSession, event: Event, participant_id: int) -> int:
    """The person no longer comes: their waiting reminders of the event are not sent."""
    return await cancel_pending(
        session,
        participant_id=participant_id,
        ref=event.ref,
        kinds=[EVENT_KIND],
        detail="answer changed",
    )


async def restore_reminders(
    session: AsyncSession,
    participant: Participant,
    now: datetime,
    messages: EventMessages,
    policy: ReminderPolicy,
) -> int:
    """Write the reminders again of upcoming events the person said yes to (after /start)."""
    rows = await session.exec(
        select(Event)
        .join(Rsvp, col(Rsvp.event_id) == col(Event.id))
        .where(
            col(Rsvp.participant_id) == participant.id,
            col(Rsvp.answer) == RsvpAnswer.YES,
            col(Event.state) == EventState.PUBLISHED,
            col(Event.starts_at) > now,
        )
    )
    written = 0
    for event in rows.all():
        await cancel_reminders(session, event, participant.id or 0)
        written += await schedule_reminders(session, event, participant, now, messages, policy)
    return written


# ---------------------------------------------------------------------- reading


async def upcoming(
    session: AsyncSession,
    now: datetime,
    *,
    arena_id: int | None = None,
    limit: int = 20,
) -> list[Event]:
    """Published events that have not begun, soonest first (of one arena, if given)."""
    statement = select(Event).where(
        col(Event.state) == EventState.PUBLISHED, col(Event.starts_at) > now
    )
    if arena_id is not None:
        statement = statement.where(col(Event.arena_id) == arena_id)
    rows = await session.exec(statement.order_by(col(Event.starts_at), col(Event.id)).limit(limit))
    return list(rows.all())


@dataclass(frozen=True)
class Attendee:
    """One line of an attendance list: who (as a participant id), what, when."""

    participant_id: int
    answer: RsvpAnswer
    answered_at: datetime
    position: int | None  # on the waiting list


async def attendance(session: AsyncSession, event_id: int) -> list[Attendee]:
    """Every answer to the event: yes, then waiting (in order), maybe, no."""
    rows = await session.exec(
        select(Rsvp)
        .where(col(Rsvp.event_id) == event_id)
        .order_by(col(Rsvp.waiting_since), col(Rsvp.answered_at), col(Rsvp.id))
    )
    order = [RsvpAnswer.YES, RsvpAnswer.WAITING, RsvpAnswer.MAYBE, RsvpAnswer.NO]
    listed: list[Attendee] = []
    waiting = 0
    answers = sorted(rows.all(), key=lambda r: order.index(RsvpAnswer(r.answer)))
    for rsvp in answers:
        kind = RsvpAnswer(rsvp.answer)
        position = None
        if kind == RsvpAnswer.WAITING:
            waiting += 1
            position = waiting
        listed.append(Attendee(rsvp.participant_id, kind, rsvp.answered_at, position))
    return listed
