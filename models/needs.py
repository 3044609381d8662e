"""Volunteer needs (oppdrag): a centre asks for a few hands, the volunteers who match are asked.

This module holds the tables (:class:`Need`, and :class:`Signup`, one volunteer's invitation
and answer), a need's time (one date, or weekly), composing a draft, and what its coordinator
does and sees: stopping sign-ups, cancelling, the counts, the shared contacts, the report.
Publishing and who is invited is :mod:`models.matching`; a volunteer's answer, the waiting list,
reminders, contact details and feedback are :mod:`models.signups`.

A need is at one time, or weekly (the same weekday and hours every week, until the coordinator
closes it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy import select as core_select
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import drafts, places
from models.base import Text, UTCDateTime, localized, table_of, utcnow
from models.centres import Centre
from models.drafts import DraftProblem, start_draft
from models.outbox.messages import cancel_pending, enqueue
from models.outbox.quiet_hours import QuietHours
from models.participant import Participant
from models.reminders import ReminderPolicy
from models.stops import not_stopped

TITLE_LIMIT = 100
DESCRIPTION_LIMIT = 1000
PLACES_LIMIT = 100
#: How long a need lasts when only its start is given.
DEFAULT_LENGTH = timedelta(hours=2)
#: The weekly cap counts invitations in this window.
CAP_WINDOW = timedelta(days=7)
#: A volunteer who chose to type a phone number has this long to type it.
PHONE_WINDOW = timedelta(minutes=15)

#: Outbox kinds (at most 16 characters: the delivery table's column).
INVITE_KIND = "need-invite"
REMINDER_KIND = "remind-need"
THANKS_KIND = "need-thanks"
UPDATE_KIND = "need-update"

Payload = dict[str, Any]


class NeedState(StrEnum):
    """Where a need is in its life."""

    DRAFT = "draft"
    OPEN = "open"  # published: takes answers while its time (or next time) is ahead
    CLOSED = "closed"  # the coordinator stopped sign-ups; who said yes still comes
    CANCELLED = "cancelled"


class Answer(StrEnum):
    """A volunteer's answer to an invitation."""

    INVITED = "invited"  # not answered yet
    YES = places.YES
    WAITING = places.WAITING
    NO = "no"


class Share(StrEnum):
    """What a volunteer lets the coordinator see."""

    NAME = "name"  # first name and Telegram username
    PHONE = "phone"  # first name and a phone number they type
    NONE = "none"


class Feedback(StrEnum):
    """The one tap of "how did it go?"."""

    GOOD = "good"
    OK = "ok"
    BAD = "bad"


class Need(SQLModel, table=True):
    """A centre's request for volunteers."""

    __table_args__ = (Index("ix_need_centre_state", "centre_id", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    centre_id: int = Field(
        sa_column=Column(Integer, ForeignKey("centre.id", ondelete="CASCADE"), nullable=False)
    )
    # Needs of one uploaded file are drafts of the first until they are published together.
    batch_of: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("need.id", ondelete="CASCADE"), index=True),
    )
    state: str = Field(default=NeedState.DRAFT, sa_column=Column(String(16), nullable=False))
    # The coordinator's Telegram user id and chat (not foreign keys: cleared on erasure).
    created_by: int | None = Field(default=None, sa_column=Column(BigInteger, index=True))
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    staff_language: str = Field(default="nb", max_length=5)
    # Per language; ``language`` is the one written first (the fallback).
    title: Text = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    description: Text | None = Field(default=None, sa_column=Column(JSON))
    language: str = Field(default="nb", max_length=5)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    district: str | None = Field(default=None, max_length=60)
    starts_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    weekly: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    places: int | None = None
    # A spoken language (models.volunteers.SPOKEN) volunteers should have; None: no wish.
    wished_language: str | None = Field(default=None, max_length=8)
    invited: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def ref(self) -> str:
        """How outbox rows about this need name it."""
        return f"need:{self.id}"

    @property
    def length(self) -> timedelta:
        """How long one time of it lasts."""
        assert self.starts_at is not None
        return (self.ends_at - self.starts_at) if self.ends_at else DEFAULT_LENGTH

    def title_in(self, language: str) -> str:
        """The title in ``language``, else in the language it was written in."""
        return localized(self.title, language, self.language)

    def description_in(self, language: str) -> str:
        """The description in ``language``, else in the language it was written in."""
        return localized(self.description, language, self.language)


class Signup(SQLModel, table=True):
    """One volunteer invited to one need, and their answer."""

    __tablename__ = "volunteer_signup"
    __table_args__ = (
        UniqueConstraint("need_id", "participant_id"),
        Index("ix_volunteer_signup_participant_invited", "participant_id", "invited_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    need_id: int = Field(
        sa_column=Column(Integer, ForeignKey("need.id", ondelete="CASCADE"), nullable=False)
    )
    participant_id: int = Field(
        sa_column=Column(Integer, ForeignKey("participant.id", ondelete="CASCADE"), nullable=False)
    )
    answer: str = Field(default=Answer.INVITED, sa_column=Column(String(8), nullable=False))
    invited_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    waiting_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The start of the volunteer's first time (reminders before it, thanks after it).
    first_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Shared with the coordinator only by the volunteer's explicit choice, after a yes.
    contact_name: str | None = Field(default=None, max_length=64)
    contact_username: str | None = Field(default=None, max_length=40)
    contact_phone: str | None = Field(default=None, max_length=24)
    contact_shared_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The volunteer chose to type a phone number at this time (their next text is it).
    phone_asked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    feedback: str | None = Field(default=None, max_length=8)
    feedback_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


N = table_of(Need)
S = table_of(Signup)
P = table_of(Participant)
#: Where needs keep their answers, for the rule of places and the waiting list.
PLACES = places.Places(S, "need_id")


class NeedMessages(Protocol):
    """Renders what volunteers get about needs, as Bot API fields, in ``language``."""

    def invitation(self, need: Need, centre: Centre, language: str) -> Payload:
        """The invitation with the yes and no buttons."""
        ...

    def reminder(self, need: Need, start: datetime, language: str) -> Payload:
        """A reminder to a volunteer who said yes, of their time starting at ``start``."""
        ...

    def thanks(self, need: Need, language: str) -> Payload:
        """The thank-you after the volunteer's first time, with "how did it go?"."""
        ...

    def promoted(self, need: Need, start: datetime, language: str) -> Payload:
        """A place came free and the first on the waiting list has it now."""
        ...

    def cancelled(self, need: Need, language: str) -> Payload:
        """The need is cancelled."""
        ...


class NeedProblem(DraftProblem):
    """A need that cannot be saved or published as it is; ``code`` names the rule.

    Codes: ``empty``, ``too_long``, ``past``, ``ends_first``, ``places``, ``tags``,
    ``incomplete``, ``not_draft``, ``not_open``.
    """


class NeedRefused(Exception):
    """A volunteer's tap that cannot be taken; ``reason`` says why.

    ``gone`` (no such need, or not invited to it), ``cancelled``, ``closed``, ``over`` (its
    time has passed), ``no_place`` (sharing or feedback without a yes), ``not_yet`` (feedback
    before the time).
    """

    def __init__(self, reason: str, need: Need | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.need = need


# ---------------------------------------------------------------------- time


def occurrence(need: Need, week: int, zone: str) -> tuple[datetime, datetime]:
    """The start and end of the need's ``week``-th time (0: the first), by the local clock."""
    assert need.starts_at is not None
    # Arithmetic on an aware datetime keeps its wall clock; the offset is worked out anew.
    local = need.starts_at.astimezone(ZoneInfo(zone)) + timedelta(weeks=week)
    start = local.astimezone(UTC)
    return start, start + need.length


def next_time(need: Need, now: datetime, zone: str) -> tuple[datetime, datetime] | None:
    """The need's next time that has not begun, or None when none is ahead."""
    assert need.starts_at is not None
    if need.starts_at > now:
        return occurrence(need, 0, zone)
    if not need.weekly:
        return None
    week = max(0, (now - need.starts_at).days // 7)
    while (found := occurrence(need, week, zone))[0] <= now:
        week += 1
    return found


def check_text(text: str, limit: int) -> str:
    """A title or description as stored: stripped, not empty, within ``limit``."""
    return drafts.check_text(text, limit, NeedProblem)


def check_times(starts_at: datetime, ends_at: datetime | None, now: datetime) -> None:
    """A need starts in the future and ends after it starts."""
    drafts.check_times(starts_at, ends_at, now, NeedProblem)


def check_places(number: int) -> None:
    """A need asks for 1 to :data:`PLACES_LIMIT` people."""
    if not 1 <= number <= PLACES_LIMIT:
        raise NeedProblem("places", PLACES_LIMIT)


_WEEKDAYS = {
    **dict.fromkeys(("mandag", "måndag", "monday", "man", "mon"), 0),
    **dict.fromkeys(("tirsdag", "tysdag", "tuesday", "tir", "tys", "tue"), 1),
    **dict.fromkeys(("onsdag", "wednesday", "ons", "wed"), 2),
    **dict.fromkeys(("torsdag", "thursday", "tor", "thu"), 3),
    **dict.fromkeys(("fredag", "friday", "fre", "fri"), 4),
    **dict.fromkeys(("lørdag", "laurdag", "saturday", "lør", "lau", "sat"), 5),
    **dict.fromkeys(("søndag", "sundag", "sunday", "søn", "sun"), 6),
}
_CLOCK = r"(\d{1,2})(?:[:.](\d{2}))?"
_WEEKLY = re.compile(
    rf"^(?:every\s+|hver\s+|kvar\s+)?(?P<day>[a-zæøå]+?)(?:er|ar|s)?\s+(?:kl\.?\s*)?"
    rf"{_CLOCK}(?:\s*[-\u2013]\s*{_CLOCK})?$"
)
_DATED = re.compile(
    rf"^(?:(?P<iso>\d{{4}}-\d{{2}}-\d{{2}})|(?P<day>\d{{1,2}})\.(?P<month>\d{{1,2}})\.(?P<year>\d{{4}}))"
    rf"\s+{_CLOCK}(?:\s*[-\u2013]\s*{_CLOCK})?$"
)


def _clock(hour: str | None, minute: str | None) -> tuple[int, int] | None:
    if hour is None:
        return None
    h, m = int(hour), int(minute or 0)
    return (h, m) if 0 <= h < 24 and 0 <= m < 60 else None


def _span(
    day: datetime, start: tuple[int, int], end: tuple[int, int] | None
) -> tuple[datetime, datetime | None]:
    """A local day's span from ``start`` to ``end`` (if given), in UTC."""
    first = day.replace(hour=start[0], minute=start[1], second=0, microsecond=0)
    last = day.replace(hour=end[0], minute=end[1], second=0, microsecond=0) if end else None
    return first.astimezone(UTC), last.astimezone(UTC) if last else None


def parse_weekly(text: str, now: datetime, zone: str) -> tuple[datetime, datetime | None] | None:
    """A weekly slot typed as ``tirsdag 17:00-19:00`` (``every tuesday 17-19``): its next time.

    Weekdays in Bokmål, Nynorsk or English (also plural, "tirsdager"); None when it is not one.
    """
    match = _WEEKLY.match(" ".join(text.strip().lower().split()))
    if match is None:
        return None
    weekday = _WEEKDAYS.get(match["day"])
    groups = match.groups()
    start, end = _clock(groups[1], groups[2]), _clock(groups[3], groups[4])
    if weekday is None or start is None or (groups[3] is not None and end is None):
        return None
    local = now.astimezone(ZoneInfo(zone))
    day = local + timedelta(days=(weekday - local.weekday()) % 7)
    first, last = _span(day, start, end)
    if first <= now:
        first, last = _span(day + timedelta(days=7), start, end)
    return first, last


def parse_dated(text: str, zone: str) -> tuple[datetime, datetime | None] | None:
    """A local date and time as a needs file has it: ``2027-03-27 10:00-14:00``.

    ``27.03.2027 10:00`` is read too; the end is optional. None when it is not one.
    """
    match = _DATED.match(" ".join(text.strip().split()))
    if match is None:
        return None
    groups = match.groups()
    start, end = _clock(groups[4], groups[5]), _clock(groups[6], groups[7])
    if start is None or (groups[6] is not None and end is None):
        return None
    tz = ZoneInfo(zone)
    try:
        if match["iso"]:
            day = datetime.strptime(match["iso"], "%Y-%m-%d").replace(tzinfo=tz)
        else:
            day = datetime(int(match["year"]), int(match["month"]), int(match["day"]), tzinfo=tz)
    except ValueError:
        return None
    return _span(day, start, end)


# ---------------------------------------------------------------------- composing


async def new_draft(
    session: AsyncSession,
    centre: Centre,
    created_by: int,
    chat_id: int,
    language: str,
    now: datetime,
) -> Need:
    """Start composing a need of the centre (in its district unless the coordinator changes it)."""
    need = Need(centre_id=centre.id or 0, district=centre.district, language=language)
    return await start_draft(session, need, created_by, chat_id, language, now)


def is_complete(need: Need) -> bool:
    """A draft has everything an invitation needs (description and language are optional)."""
    return bool(need.title and need.tags and need.district and need.starts_at and need.places)


def check_publishable(need: Need, centre: Centre, now: datetime) -> None:
    """A draft that can be published: complete, its tags the centre's, in the future."""
    if need.state != NeedState.DRAFT:
        raise NeedProblem("not_draft")
    if not is_complete(need):
        raise NeedProblem("incomplete")
    if not set(need.tags) <= set(centre.tag_ids):
        raise NeedProblem("tags")
    assert need.starts_at is not None
    assert need.places is not None
    check_times(need.starts_at, need.ends_at, now)
    check_places(need.places)


# ---------------------------------------------------------------------- the coordinator


async def close(session: AsyncSession, need: Need, now: datetime) -> None:
    """Stop sign-ups: invitations not yet sent are not sent; who said yes still comes.

    Raises:
        NeedProblem: ``not_open``.
    """
    if need.state != NeedState.OPEN:
        raise NeedProblem("not_open")
    need.state = NeedState.CLOSED
    need.closed_at = need.updated_at = now
    await cancel_pending(session, ref=need.ref, kinds=[INVITE_KIND], detail="need closed")
    await session.flush()


async def cancel(
    session: AsyncSession,
    need: Need,
    now: datetime,
    messages: NeedMessages,
    policy: ReminderPolicy,
) -> int:
    """Cancel the need; return how many volunteers (yes and waiting) are told.

    Raises:
        NeedProblem: ``not_open`` (a draft, or cancelled already).
    """
    if need.state not in (NeedState.OPEN, NeedState.CLOSED):
        raise NeedProblem("not_open")
    need.state = NeedState.CANCELLED
    need.closed_at = need.updated_at = now
    await session.flush()
    await cancel_pending(session, ref=need.ref, detail="need cancelled")
    upcoming = next_time(need, now, policy.zone)
    if upcoming is None:
        return 0
    rows = await session.exec(
        select(Participant)
        .join(Signup, col(Signup.participant_id) == col(Participant.id))
        .where(
            col(Signup.need_id) == need.id,
            col(Signup.answer).in_([Answer.YES, Answer.WAITING]),
            col(Participant.unreachable_at).is_(None),
            not_stopped(col(Participant.id)),
        )
    )
    told = list(rows.all())
    for person in told:
        payload = messages.cancelled(need, policy.language_of(person.language))
        await tell(session, need, person, payload, now, upcoming[0], policy.quiet)
    return len(told)


@dataclass
class NeedCounts:
    """A need's answers, its withdrawals and its feedback."""

    invited: int = 0
    yes: int = 0
    waiting: int = 0
    no: int = 0
    withdrawn: int = 0
    feedback: dict[str, int] = field(default_factory=dict)


async def counts(session: AsyncSession, need_id: int) -> NeedCounts:
    """Count the need's answers (``invited`` is everyone invited, answered or not)."""
    connection = await session.connection()
    found = NeedCounts()
    rows = await connection.execute(
        core_select(S.c.answer, func.count(), func.count(S.c.withdrawn_at))
        .where(S.c.need_id == need_id)
        .group_by(S.c.answer)
    )
    for answer_value, number, withdrawn in rows.all():
        found.invited += int(number)
        found.withdrawn += int(withdrawn)
        if answer_value in (Answer.YES, Answer.WAITING, Answer.NO):
            setattr(found, str(answer_value), int(number))
    feedback = await connection.execute(
        core_select(S.c.feedback, func.count())
        .where(S.c.need_id == need_id, S.c.feedback.is_not(None))
        .group_by(S.c.feedback)
    )
    found.feedback = {str(value): int(number) for value, number in feedback.all()}
    return found


@dataclass(frozen=True)
class Contact:
    """What one volunteer chose to share with the coordinator."""

    name: str | None
    username: str | None
    phone: str | None
    answer: Answer


async def contacts(session: AsyncSession, need_id: int) -> list[Contact]:
    """The volunteers of the need who shared contact details: with a place first, in order."""
    rows = await session.exec(
        select(Signup)
        .where(
            col(Signup.need_id) == need_id,
            col(Signup.contact_shared_at).is_not(None),
            col(Signup.answer).in_([Answer.YES, Answer.WAITING]),
        )
        .order_by(col(Signup.answer).desc(), col(Signup.answered_at), col(Signup.id))
    )
    return [
        Contact(s.contact_name, s.contact_username, s.contact_phone, Answer(s.answer))
        for s in rows.all()
    ]


async def needs_of(session: AsyncSession, centre_ids: list[int], *, limit: int = 20) -> list[Need]:
    """The centres' published needs: open ones first, newest first."""
    order = func.coalesce(col(Need.state) == NeedState.OPEN, False)
    rows = await session.exec(
        select(Need)
        .where(col(Need.centre_id).in_(centre_ids), col(Need.state) != NeedState.DRAFT)
        .order_by(order.desc(), col(Need.starts_at).desc(), col(Need.id).desc())
        .limit(limit)
    )
    return list(rows.all())


async def batch_drafts(session: AsyncSession, first: Need) -> list[Need]:
    """A draft and the drafts uploaded in the same file, in the file's order."""
    rows = await session.exec(
        select(Need)
        .where(col(Need.batch_of) == first.id, col(Need.state) == NeedState.DRAFT)
        .order_by(col(Need.id))
    )
    return [first, *rows.all()]


async def tell(
    session: AsyncSession,
    need: Need,
    person: Participant,
    payload: Payload,
    now: datetime,
    start: datetime,
    quiet: QuietHours | None,
) -> None:
    """Send the volunteer news of the need now; it expires when their time begins."""
    # Someone who would travel to it must hear in time, quiet hours or not.
    urgent = quiet is not None and quiet.ends(now) >= start
    await enqueue(
        session,
        person.id or 0,
        payload,
        kind=UPDATE_KIND,
        due_at=now,
        urgent=urgent,
        ref=need.ref,
        expires_at=start,
    )


@dataclass(frozen=True)
class NeedReport:
    """One need for the annual report: the need, its centre and its counts."""

    need: Need
    centre: Centre
    counts: NeedCounts


async def report(session: AsyncSession, centre_ids: list[int] | None = None) -> list[NeedReport]:
    """Every published need (of these centres), oldest first, with its counts."""
    statement = (
        select(Need, Centre)
        .join(Centre, col(Centre.id) == col(Need.centre_id))
        .where(col(Need.state) != NeedState.DRAFT)
        .order_by(col(Need.starts_at), col(Need.id))
    )
    if centre_ids is not None:
        statement = statement.where(col(Need.centre_id).in_(centre_ids))
    rows = (await session.exec(statement)).all()
    return [NeedReport(need, centre, await counts(session, need.id or 0)) for need, centre in rows]
