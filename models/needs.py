"""Volunteer needs (oppdrag): a centre asks for a few hands, the volunteers who match are asked.

A coordinator composes a need as a draft (the wizard engine keeps their place) or uploads a
needs file, then publishes it. Publishing invites, in one transaction, every volunteer whose
profile matches it (:func:`match_statement`: a tag in common, the district, the time slot and,
when the need wishes for one, the language), best matches first, and none of them more than
the coordinator's weekly cap: each invitation is an outbox row the delivery worker sends at the
broadcast pace, and a :class:`Signup` row that will hold the person's answer.

A yes takes a place until the need is full; later yeses wait on a list, and the first on it
moves up (and is told) when someone withdraws: the rule of :mod:`models.places`, as for events.
A yes writes the reminders (the day before and two hours before, :func:`queue_reminders`) and
the thank-you with its one-tap "how did it go?", due when the volunteer's first time ends; a
withdrawal cancels them. Only after a yes (or a place on the list) may a volunteer share their
first name with their Telegram username or a phone number; the coordinator otherwise sees
counts.

A need is at one time, or weekly (the same weekday and hours every week, until the coordinator
closes it); a volunteer of a weekly need is reminded before, and thanked after, their first
time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    UniqueConstraint,
    and_,
    case,
    func,
    insert,
    literal,
    or_,
)
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import places
from models.base import Text, UTCDateTime, localized, table_of, utcnow
from models.centres import Centre
from models.drafts import start_draft
from models.outbox.messages import cancel_pending, enqueue
from models.outbox.quiet_hours import QuietHours
from models.outbox.tables import D, DeliveryState
from models.participant import PRIVACY, PRIVACY_NOTICE_VERSION, Participant, latest_yes_ids
from models.reminders import ReminderPolicy, queue_reminders
from models.stops import STOPS, not_stopped
from models.volunteers import (
    CHOICES,
    PROFILES,
    VOLUNTEER,
    VOLUNTEER_NOTICE_VERSION,
    ChoiceKind,
    slot_of,
)

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


class NeedProblem(ValueError):
    """A need that cannot be saved or published as it is; ``code`` names the rule.

    Codes: ``empty``, ``too_long``, ``past``, ``ends_first``, ``places``, ``tags``,
    ``incomplete``, ``not_draft``, ``not_open``.
    """

    def __init__(self, code: str, limit: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.limit = limit


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
    cleaned = text.strip()
    if not cleaned:
        raise NeedProblem("empty")
    if len(cleaned) > limit:
        raise NeedProblem("too_long", limit)
    return cleaned


def check_times(starts_at: datetime, ends_at: datetime | None, now: datetime) -> None:
    """A need starts in the future and ends after it starts."""
    if starts_at <= now:
        raise NeedProblem("past")
    if ends_at is not None and ends_at <= starts_at:
        raise NeedProblem("ends_first")


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


def _check_publishable(need: Need, centre: Centre, now: datetime) -> None:
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


# ---------------------------------------------------------------------- matching


@dataclass(frozen=True)
class Matching:
    """What a need's invitations are checked against: when, and the coordinator's cap."""

    now: datetime
    zone: str
    cap: int


def _chose(kind: ChoiceKind, values: list[str]) -> ColumnElement[bool]:
    """SQL: the profile chose one of ``values`` of ``kind``."""
    chosen = core_select(CHOICES.c.profile_id).where(
        CHOICES.c.kind == kind.value, CHOICES.c.value.in_(values)
    )
    return PROFILES.c.id.in_(chosen)


def _match_conditions(
    need: Need, matching: Matching, since: datetime
) -> list[ColumnElement[bool]]:
    """Who may be asked, each rule a set (``IN``/``NOT IN`` an uncorrelated subquery).

    Sets, not a lookup per volunteer: the databases hash them, which keeps 10,000 volunteers
    well under a second (bench/bench_volunteering.py).
    """
    assert need.starts_at is not None
    over_cap = (
        core_select(S.c.participant_id)
        .join(N, N.c.id == S.c.need_id)
        .where(N.c.created_by == need.created_by, S.c.invited_at > since)
        .group_by(S.c.participant_id)
        .having(func.count() >= matching.cap)
    )
    conditions = [
        _chose(ChoiceKind.DISTRICT, [need.district or ""]),
        _chose(ChoiceKind.SLOT, [slot_of(need.starts_at, matching.zone).value]),
        P.c.unreachable_at.is_(None),
        P.c.id.not_in(core_select(STOPS.c.participant_id)),
        P.c.id.in_(latest_yes_ids(PRIVACY, version=PRIVACY_NOTICE_VERSION, alias="pc")),
        P.c.id.in_(latest_yes_ids(VOLUNTEER, version=VOLUNTEER_NOTICE_VERSION, alias="vc")),
        P.c.id.not_in(core_select(S.c.participant_id).where(S.c.need_id == need.id)),
        P.c.id.not_in(over_cap),
    ]
    if need.wished_language:
        conditions.append(_chose(ChoiceKind.LANGUAGE, [need.wished_language]))
    return conditions


def _recent_invitations(since: datetime) -> Any:
    """SQL: how many invitations (from anyone) the profile's person got since ``since``."""
    # A count per volunteer through the (participant, time) index: as a join to a grouped
    # subquery instead, SQLite 3.40 took 35 s for 10,000 volunteers.
    return (
        core_select(func.count())
        .where(S.c.participant_id == PROFILES.c.participant_id, S.c.invited_at > since)
        .scalar_subquery()
    )


def match_statement(need: Need, matching: Matching) -> Select[Any]:
    """The volunteers a need invites, best first.

    Rows of ``participant_id``, ``language``, ``score`` (tags in common), ``recent``
    (invitations from anyone in the last seven days) and ``profile_id``.

    A match has a tag in common with the need, its district, its time slot and, when the need
    wishes for a language, that language; has agreed to the volunteer text and the privacy
    notice, can be reached, did not send /stop, was not invited to this need before, and got
    fewer than ``cap`` invitations from this coordinator's needs in the last seven days.

    Best first: more tags in common, then fewer invitations from anyone in the last seven days
    (so the same few are not asked every time), then who volunteered first.
    """
    since = matching.now - CAP_WINDOW
    tags = CHOICES.alias("t")
    recent = _recent_invitations(since)
    score = func.count(tags.c.value).label("score")
    in_common = and_(
        tags.c.profile_id == PROFILES.c.id,
        tags.c.kind == ChoiceKind.TAG.value,
        tags.c.value.in_(list(need.tags)),
    )
    return (
        core_select(
            PROFILES.c.participant_id,
            P.c.language,
            score,
            recent.label("recent"),
            PROFILES.c.id.label("profile_id"),
        )
        .select_from(PROFILES)
        .join(P, P.c.id == PROFILES.c.participant_id)
        .join(tags, in_common)
        .where(*_match_conditions(need, matching, since))
        .group_by(PROFILES.c.id, PROFILES.c.participant_id, P.c.language)
        .order_by(score.desc(), recent, PROFILES.c.id)
    )


async def count_matches(session: AsyncSession, need: Need, matching: Matching) -> int:
    """How many volunteers the need would invite now."""
    connection = await session.connection()
    matched = match_statement(need, matching).order_by(None).subquery()
    statement = core_select(func.count()).select_from(matched)
    return int((await connection.execute(statement)).scalar_one())


async def publish(
    session: AsyncSession,
    need: Need,
    matching: Matching,
    messages: NeedMessages,
    default_language: str,
) -> int:
    """Publish a draft: invite every matching volunteer, best first; return how many.

    Two statements do it, whatever the number of volunteers: the outbox rows are inserted
    straight from the matching query, best match first (so their ids, and the order the
    delivery worker sends them in, follow the ranking), with the payload of each person's
    language chosen in SQL; then a :class:`Signup` row for each of those rows. The payloads
    are rendered once per language; nobody is loaded as an object.

    Raises:
        NeedProblem: ``not_draft``, ``incomplete``, ``tags``, ``past`` or ``places``.
    """
    centre = await session.get(Centre, need.centre_id)
    assert centre is not None
    _check_publishable(need, centre, matching.now)
    need.state = NeedState.OPEN
    need.published_at = need.updated_at = matching.now
    await session.flush()
    connection = await session.connection()
    payload = await _payload_by_language(connection, need, centre, messages, default_language)
    need.invited = await _insert_invitations(connection, need, matching, payload, default_language)
    await connection.execute(
        insert(S).from_select(
            ["need_id", "participant_id", "answer", "invited_at"],
            core_select(
                literal(need.id),
                D.c.participant_id,
                literal(Answer.INVITED.value),
                literal(matching.now, UTCDateTime()),
            ).where(D.c.ref == need.ref, D.c.kind == INVITE_KIND),
        )
    )
    await session.flush()
    return need.invited


async def _insert_invitations(
    connection: AsyncConnection,
    need: Need,
    matching: Matching,
    payload: Callable[[ColumnElement[Any]], ColumnElement[Any]],
    default_language: str,
) -> int:
    """The outbox rows of the need's invitations, from the matching query; how many."""
    matched = match_statement(need, matching).subquery()
    columns = ["participant_id", "kind", "payload", "ref", "due_at", "expires_at"]
    columns += ["urgent", "attempts", "state"]
    rows = core_select(
        matched.c.participant_id,
        literal(INVITE_KIND),
        payload(func.coalesce(matched.c.language, default_language)),
        literal(need.ref),
        literal(matching.now, UTCDateTime()),
        literal(None if need.weekly else need.starts_at, UTCDateTime()),
        literal(False),
        literal(0),
        literal(DeliveryState.PENDING.value),
    ).order_by(matched.c.score.desc(), matched.c.recent, matched.c.profile_id)
    result = await connection.execute(insert(D).from_select(columns, rows))
    return int(result.rowcount or 0)


async def _payload_by_language(
    connection: AsyncConnection,
    need: Need,
    centre: Centre,
    messages: NeedMessages,
    default_language: str,
) -> Callable[[ColumnElement[Any]], ColumnElement[Any]]:
    """SQL choosing the invitation in a language column's language: one rendered per language."""
    languages = (await connection.execute(core_select(P.c.language).distinct())).scalars().all()
    codes = {code or default_language for code in languages} | {default_language}
    rendered = {code: literal(messages.invitation(need, centre, code), JSON) for code in codes}

    def payload(language: ColumnElement[Any]) -> ColumnElement[Any]:
        return case(rendered, value=language, else_=rendered[default_language])

    return payload


# ---------------------------------------------------------------------- answering


@dataclass
class SignupResult:
    """What became of a volunteer's tap on yes or no."""

    need: Need
    signup: Signup
    changed: bool = False
    position: int | None = None  # on the waiting list
    start: datetime | None = None  # the volunteer's first time, with a place
    promoted: int | None = None  # the participant who moved up from the waiting list


async def signup_of(session: AsyncSession, need_id: int, participant_id: int) -> Signup | None:
    """The person's invitation to the need, with their answer."""
    rows = await session.exec(
        select(Signup).where(
            col(Signup.need_id) == need_id, col(Signup.participant_id) == participant_id
        )
    )
    return rows.first()


async def _locked_need(session: AsyncSession, need_id: int) -> Need | None:
    # FOR UPDATE on PostgreSQL: two volunteers taking the last place are served one after the
    # other, so the places hold. SQLite has one writer at a time anyway.
    rows = await session.exec(
        select(Need)
        .where(col(Need.id) == need_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return rows.first()


async def _answerable(
    session: AsyncSession, need_id: int, participant_id: int, now: datetime, zone: str
) -> tuple[Need, Signup, tuple[datetime, datetime]]:
    """The need (locked), the person's invitation and the next time, or why not."""
    need = await _locked_need(session, need_id)
    signup = await signup_of(session, need_id, participant_id) if need is not None else None
    if need is None or signup is None or need.state == NeedState.DRAFT:
        raise NeedRefused("gone")
    if need.state == NeedState.CANCELLED:
        raise NeedRefused("cancelled", need)
    upcoming = next_time(need, now, zone)
    if upcoming is None:
        raise NeedRefused("over", need)
    if need.state == NeedState.CLOSED and signup.answer != Answer.YES:
        raise NeedRefused("closed", need)
    return need, signup, upcoming


async def answer(
    session: AsyncSession,
    need_id: int,
    participant: Participant,
    choice: Answer,
    now: datetime,
    messages: NeedMessages,
    policy: ReminderPolicy,
) -> SignupResult:
    """Take a volunteer's yes or no to an invitation; they can change it until the time.

    A yes takes a place, or a place on the waiting list when the need is full. A no after a
    yes frees the place for the first on the list; shared contact details are forgotten.

    Raises:
        NeedRefused: ``gone``, ``cancelled``, ``closed`` or ``over``.
    """
    need, signup, upcoming = await _answerable(
        session, need_id, participant.id or 0, now, policy.zone
    )
    before = Answer(signup.answer)
    wanted = await _wanted(session, need, choice, before)
    result = SignupResult(need, signup)
    if wanted != before:
        result.changed = True
        await _record(session, signup, wanted, now)
        if wanted == Answer.YES:
            result.start = await _commit(
                session, need, signup, participant, upcoming, now, messages, policy
            )
        if before == Answer.YES:
            await _uncommit(session, need, signup)
            result.promoted = await _promote(session, need, now, messages, policy)
    elif wanted == Answer.YES:
        result.start = signup.first_at
    result.position = await waiting_position(session, signup)
    return result


async def _wanted(session: AsyncSession, need: Need, choice: Answer, before: Answer) -> Answer:
    """The answer to store: a yes is a place, or a place on the list when the need is full."""
    if choice != Answer.YES:
        return Answer.NO
    taken = await places.taken(session, PLACES, need.id or 0)
    found = places.place_for(places.YES, before, taken, need.places, list_when_full=True)
    return Answer(found or places.WAITING)


async def _record(session: AsyncSession, signup: Signup, answer: Answer, now: datetime) -> None:
    """Store the answer; the waiting list is ordered by when people joined it."""
    before = signup.answer
    signup.answer = answer
    signup.answered_at = now
    signup.waiting_since = now if answer == Answer.WAITING else None
    if answer == Answer.NO and before in (Answer.YES, Answer.WAITING):
        signup.withdrawn_at = now
        _forget_contact(signup)
    elif answer in (Answer.YES, Answer.WAITING):
        signup.withdrawn_at = None
    await session.flush()


def _forget_contact(signup: Signup) -> None:
    signup.contact_name = signup.contact_username = signup.contact_phone = None
    signup.contact_shared_at = signup.phone_asked_at = None


async def _commit(
    session: AsyncSession,
    need: Need,
    signup: Signup,
    person: Participant,
    upcoming: tuple[datetime, datetime],
    now: datetime,
    messages: NeedMessages,
    policy: ReminderPolicy,
) -> datetime:
    """The volunteer has a place: their reminders and their thank-you; their first time."""
    start, end = upcoming
    signup.first_at = start
    language = policy.language_of(person.language)
    pid = person.id or 0
    payload = messages.reminder(need, start, language)
    await queue_reminders(
        session, pid, start, payload, kind=REMINDER_KIND, ref=need.ref, policy=policy, now=now
    )
    # The thank-you waits out quiet hours like any message; a week late it is pointless.
    await enqueue(
        session,
        pid,
        messages.thanks(need, language),
        kind=THANKS_KIND,
        due_at=end,
        ref=need.ref,
        expires_at=end + timedelta(days=7),
    )
    await session.flush()
    return start


async def _uncommit(session: AsyncSession, need: Need, signup: Signup) -> None:
    """The volunteer no longer comes: their reminders and thank-you are not sent."""
    await cancel_pending(
        session,
        participant_id=signup.participant_id,
        ref=need.ref,
        kinds=[REMINDER_KIND, THANKS_KIND],
        detail="answer changed",
    )
    signup.first_at = None


async def _promote(
    session: AsyncSession,
    need: Need,
    now: datetime,
    messages: NeedMessages,
    policy: ReminderPolicy,
) -> int | None:
    """Give a free place to the first on the waiting list and tell them; their participant id."""
    if not await places.has_room(session, PLACES, need.id or 0, need.places):
        return None
    first = await places.first_waiting(session, PLACES, need.id or 0)
    signup = await session.get(Signup, first) if first is not None else None
    person = await session.get(Participant, signup.participant_id) if signup else None
    upcoming = next_time(need, now, policy.zone)
    if signup is None or person is None or upcoming is None:
        return None
    await _record(session, signup, Answer.YES, now)
    start = await _commit(session, need, signup, person, upcoming, now, messages, policy)
    payload = messages.promoted(need, start, policy.language_of(person.language))
    await _tell(session, need, person, payload, now, start, policy.quiet)
    return person.id


async def _tell(
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


async def waiting_position(session: AsyncSession, signup: Signup) -> int | None:
    """The volunteer's place on the waiting list (1 is next), or None when not on it."""
    if signup.answer != Answer.WAITING or signup.waiting_since is None:
        return None
    return await places.position(
        session, PLACES, signup.need_id, signup.waiting_since, signup.id or 0
    )


# ---------------------------------------------------------------------- contact and feedback


def _has_place(signup: Signup | None) -> Signup:
    if signup is None:
        raise NeedRefused("gone")
    if signup.answer not in (Answer.YES, Answer.WAITING):
        raise NeedRefused("no_place")
    return signup


async def share_contact(
    session: AsyncSession,
    need_id: int,
    participant_id: int,
    how: Share,
    *,
    first_name: str,
    username: str | None,
    now: datetime,
) -> Signup:
    """The volunteer's explicit choice of what the coordinator sees of them.

    ``name``: their first name and Telegram username (as Telegram has them now); ``phone``:
    their next typed message within :data:`PHONE_WINDOW` is the number (with their first name);
    ``none``: nothing, and anything shared before is forgotten.

    Raises:
        NeedRefused: ``gone``, or ``no_place`` without a yes or a place on the waiting list.
    """
    signup = _has_place(await signup_of(session, need_id, participant_id))
    _forget_contact(signup)
    if how == Share.NAME:
        signup.contact_name = first_name.strip()[:64] or None
        signup.contact_username = (username or "")[:40] or None
        signup.contact_shared_at = now
    elif how == Share.PHONE:
        signup.contact_name = first_name.strip()[:64] or None
        signup.phone_asked_at = now
    await session.flush()
    return signup


async def waiting_for_phone(
    session: AsyncSession, participant_id: int, now: datetime
) -> Signup | None:
    """The volunteer's invitation whose phone number their next typed message is, if any."""
    rows = await session.exec(
        select(Signup)
        .where(
            col(Signup.participant_id) == participant_id,
            col(Signup.phone_asked_at) >= now - PHONE_WINDOW,
            col(Signup.answer).in_([Answer.YES, Answer.WAITING]),
        )
        .order_by(col(Signup.phone_asked_at).desc())
        .limit(1)
    )
    return rows.first()


_PHONE = re.compile(r"^\+?[0-9]{8,15}$")


def clean_phone(text: str) -> str | None:
    """A phone number as typed (``912 34 567``, ``+47 912 34 567``), or None when it is not one."""
    compact = re.sub(r"[\s().-]", "", text.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    return compact if _PHONE.fullmatch(compact) and len(text) <= 30 else None


async def take_phone(session: AsyncSession, signup: Signup, phone: str, now: datetime) -> None:
    """Store the number the volunteer typed: the coordinator sees it from now on."""
    signup.contact_phone = phone
    signup.contact_shared_at = now
    signup.phone_asked_at = None
    await session.flush()


async def give_feedback(
    session: AsyncSession, need_id: int, participant_id: int, value: Feedback, now: datetime
) -> Signup:
    """Store "how did it go?"; the latest tap counts.

    Raises:
        NeedRefused: ``gone``, ``no_place`` (no yes), ``not_yet`` (before their time began).
    """
    signup = await signup_of(session, need_id, participant_id)
    if signup is None:
        raise NeedRefused("gone")
    if signup.answer != Answer.YES:
        raise NeedRefused("no_place")
    if signup.first_at is None or signup.first_at > now:
        raise NeedRefused("not_yet")
    signup.feedback = value
    signup.feedback_at = now
    await session.flush()
    return signup


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
        await _tell(session, need, person, payload, now, upcoming[0], policy.quiet)
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


# ---------------------------------------------------------------------- the volunteer's side


async def restore_reminders(
    session: AsyncSession,
    participant: Participant,
    now: datetime,
    messages: NeedMessages,
    policy: ReminderPolicy,
) -> int:
    """Write again the reminders and thanks of needs the person comes to (after /start)."""
    rows = await session.exec(
        select(Need, Signup)
        .join(Signup, col(Signup.need_id) == col(Need.id))
        .where(
            col(Signup.participant_id) == participant.id,
            col(Signup.answer) == Answer.YES,
            col(Signup.first_at) > now,
            col(Need.state).in_([NeedState.OPEN, NeedState.CLOSED]),
        )
    )
    written = 0
    for need, signup in rows.all():
        assert signup.first_at is not None
        await _uncommit(session, need, signup)
        start = signup.first_at or now
        await _commit(
            session, need, signup, participant, (start, start + need.length), now, messages, policy
        )
        written += 1
    return written


async def withdraw_everywhere(
    session: AsyncSession,
    participant: Participant,
    now: datetime,
    messages: NeedMessages,
    policy: ReminderPolicy,
) -> int:
    """Say no to every need the person has a place for or waits for; how many.

    Places are given to the next on each waiting list. Used when the person ends volunteering.
    """
    rows = await session.exec(
        select(Signup.need_id).where(
            col(Signup.participant_id) == participant.id,
            col(Signup.answer).in_([Answer.YES, Answer.WAITING]),
        )
    )
    withdrawn = 0
    for need_id in rows.all():
        try:
            await answer(session, need_id, participant, Answer.NO, now, messages, policy)
        except NeedRefused:
            continue  # its time has passed, or it was cancelled: nothing to give back
        withdrawn += 1
    await cancel_pending(
        session,
        participant_id=participant.id or 0,
        kinds=[INVITE_KIND],
        detail="volunteering ended",
    )
    return withdrawn


def _time_over(need: Need, signup: Signup) -> datetime | None:
    """When the volunteer's part in the need was over, or None while it may still come."""
    assert need.starts_at is not None
    if signup.first_at is not None:
        return signup.first_at + need.length
    if not need.weekly:
        return need.starts_at + need.length
    return need.closed_at


async def forget_old_contacts(session: AsyncSession, now: datetime, days: int) -> int:
    """Clear contact details shared for a need that was over more than ``days`` ago."""
    limit = now - timedelta(days=days)
    candidates = await session.exec(
        select(Signup, Need)
        .join(Need, col(Need.id) == col(Signup.need_id))
        .where(
            or_(
                col(Signup.contact_shared_at).is_not(None),
                col(Signup.phone_asked_at).is_not(None),
            ),
            col(Need.starts_at) < limit,
        )
    )
    cleared = 0
    for signup, need in candidates.all():
        over = _time_over(need, signup)
        if over is not None and over < limit:
            _forget_contact(signup)
            cleared += 1
    await session.flush()
    return cleared


async def commitments(
    session: AsyncSession, participant_id: int, now: datetime, zone: str
) -> list[tuple[Need, Signup]]:
    """The needs the person has a place in or waits for, whose time is still ahead."""
    rows = await session.exec(
        select(Need, Signup)
        .join(Signup, col(Signup.need_id) == col(Need.id))
        .where(
            col(Signup.participant_id) == participant_id,
            col(Signup.answer).in_([Answer.YES, Answer.WAITING]),
            col(Need.state).in_([NeedState.OPEN, NeedState.CLOSED]),
        )
        .order_by(col(Need.starts_at), col(Need.id))
    )
    ahead = []
    for need, signup in rows.all():
        theirs_ahead = signup.first_at is not None and signup.first_at > now
        if theirs_ahead or next_time(need, now, zone) is not None:
            ahead.append((need, signup))
    return ahead


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
