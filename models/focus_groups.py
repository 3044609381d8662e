"""Focus groups drawn by stratified lottery from an arena's members, invited through the outbox.

Staff compose a focus group (title, time, place, seats, the background questions to stratify
by, and quotas per stratum) as a draft, like an event. Drawing it picks a seed, draws each
stratum's quota from the arena's members (:mod:`models.lottery`), and writes an invitation for
each person drawn to the outbox, in the same transaction. Someone who declines is replaced by
the next in line of the same stratum, at once. Staff follow the composition against the quotas.

Who can be drawn (the *pool*): the arena's current members who accept the privacy notice, are
reachable and have not sent /stop, who have not said they never want to be drawn, and who gave
a band (not "prefer not to say") for every question the group is stratified by.

What the messages say is not decided here: the caller passes :class:`FocusMessages`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy import select as core_select
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.arenas import Arena
from models.base import UTCDateTime, table_of, utcnow
from models.drafts import DraftProblem, start_draft
from models.drafts import check_text as check_draft_text
from models.lottery import (
    EVERYONE,
    apportion,
    draw,
    new_seed,
    next_in_line,
    rank,
    stratum_bands,
    stratum_key,
)
from models.outbox.audiences import Audience, AudienceKind, audience_condition
from models.outbox.messages import enqueue
from models.participant import Consent, Participant
from models.population import distribution, population_tables
from models.profile import BackgroundQuestion, ProfileAnswer, background_questions
from models.pseudonym import instance_secret, pseudonym
from models.reminders import ReminderPolicy

TITLE_LIMIT = 100
PLACE_LIMIT = 200
SEATS_LIMIT = 200
INVITATION_KIND = "focus-invite"
#: The consent kind of "never draw me": the latest decision counts, as for every consent.
LOTTERY = "lottery"
LOTTERY_VERSION = "1"
#: The secret behind lottery keys: not the export's, so a draw cannot be joined to answers.
LOTTERY_SECRET_NAME = "lottery_pseudonym"  # noqa: S105 (a name, not a secret)

Payload = dict[str, Any]
P = table_of(Participant)


class FocusState(StrEnum):
    """Where a focus group is in its life."""

    DRAFT = "draft"
    DRAWN = "drawn"


class MemberState(StrEnum):
    """Where a person drawn for a group stands."""

    INVITED = "invited"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class FocusAnswer(StrEnum):
    """A person's answer to an invitation."""

    YES = "yes"
    NO = "no"
    NEVER = "never"  # no, and never draw me again


class FocusGroup(SQLModel, table=True):
    """A focus group: where and when, how many seats, and how they are shared among strata."""

    __tablename__ = "focus_group"
    __table_args__ = (Index("ix_focus_group_creator_state", "created_by", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    arena_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("arena.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    state: str = Field(default=FocusState.DRAFT, sa_column=Column(String(16), nullable=False))
    # The staff member's Telegram user id and chat: not foreign keys (staff need not be
    # participants; erasing one who was clears these).
    created_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    staff_language: str = Field(default="nb", max_length=5)
    title: str | None = Field(default=None, sa_column=Column(String(TITLE_LIMIT)))
    place: str | None = Field(default=None, sa_column=Column(String(PLACE_LIMIT)))
    starts_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    seats: int | None = None
    # The background questions it is stratified by (ids in the files), in order; none: one
    # stratum, everyone.
    strata: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Seats per stratum ("age=15-29;district=sentrum": 2), and the pool per stratum at the draw.
    quotas: dict[str, int] | None = Field(default=None, sa_column=Column(JSON))
    pool: dict[str, int] | None = Field(default=None, sa_column=Column(JSON))
    seed: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    drawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def ref(self) -> str:
        """How outbox rows about this group name it."""
        return f"focus:{self.id}"


class FocusMember(SQLModel, table=True):
    """Someone drawn for a focus group, and their answer."""

    __tablename__ = "focus_member"
    __table_args__ = (UniqueConstraint("focus_group_id", "participant_id"),)

    id: int | None = Field(default=None, primary_key=True)
    focus_group_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("focus_group.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    participant_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("participant.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    stratum: str = Field(sa_column=Column(String(300), nullable=False))
    lottery_key: str = Field(max_length=16)
    state: str = Field(default=MemberState.INVITED, sa_column=Column(String(12), nullable=False))
    # Drawn in place of someone who declined.
    replacement: bool = False
    invited_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class FocusMessages(Protocol):
    """Renders what people drawn for a group get, as Bot API fields, in ``language``."""

    def invitation(self, group: FocusGroup, arena: Arena, language: str) -> Payload:
        """The invitation with its answer buttons."""
        ...


class FocusProblem(DraftProblem):
    """A focus group that cannot be saved or drawn as it is; ``code`` names the rule.

    Codes: ``empty``, ``too_long``, ``past``, ``seats``, ``incomplete``, ``not_draft``,
    ``quotas``.
    """


class FocusRefused(Exception):
    """An answer that cannot be taken: ``gone``, ``started``, ``not_drawn``, ``declined``."""

    def __init__(self, reason: str, group: FocusGroup | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.group = group


# ---------------------------------------------------------------------- never draw me


async def set_lottery_choice(
    session: AsyncSession, participant_id: int, *, may_draw: bool, now: datetime
) -> None:
    """Record "never draw me for a focus group" (``may_draw`` False) or taking it back."""
    session.add(
        Consent(
            participant_id=participant_id,
            kind=LOTTERY,
            version=LOTTERY_VERSION,
            granted=may_draw,
            decided_at=now,
        )
    )
    await session.flush()


async def never_drawn(session: AsyncSession, participant_ids: list[int]) -> set[int]:
    """Who of these said they never want to be drawn (their latest lottery decision is no)."""
    if not participant_ids:
        return set()
    rows = await session.exec(
        select(Consent.participant_id, Consent.granted)
        .where(Consent.kind == LOTTERY, col(Consent.participant_id).in_(participant_ids))
        .order_by(col(Consent.decided_at), col(Consent.id))
    )
    latest: dict[int, bool] = {}
    for participant_id, granted in rows.all():
        latest[participant_id] = granted
    return {pid for pid, granted in latest.items() if not granted}


# ---------------------------------------------------------------------- composing


def check_text(text: str, limit: int) -> str:
    """A title or place as stored: stripped, not empty, within ``limit``."""
    return check_draft_text(text, limit, FocusProblem)


def check_seats(text: str) -> int:
    """The number of seats staff typed: a whole number from 1 to :data:`SEATS_LIMIT`."""
    number = text.strip()
    if not number.isdecimal() or len(number) > 4 or not 1 <= int(number) <= SEATS_LIMIT:
        raise FocusProblem("seats", SEATS_LIMIT)
    return int(number)


async def new_draft(
    session: AsyncSession,
    arena_id: int,
    created_by: int,
    chat_id: int,
    language: str,
    now: datetime,
) -> FocusGroup:
    """Start composing a focus group drawn from the arena's members."""
    group = FocusGroup(arena_id=arena_id, strata=[])
    return await start_draft(session, group, created_by, chat_id, language, now)


def strata_of(questions: list[BackgroundQuestion], keys: list[str]) -> list[str]:
    """Every stratum of the questions ``keys``: each combination of their bands, in order."""
    chosen = [q for key in keys for q in questions if q.key == key]
    combinations = itertools.product(*[[o.key for o in q.options] for q in chosen])
    return [stratum_key([q.key for q in chosen], bands) for bands in combinations]


async def proposed_quotas(session: AsyncSession, group: FocusGroup) -> dict[str, int]:
    """Seats per stratum in proportion to the population (equal shares without figures)."""
    questions = await background_questions(session)
    strata = strata_of(questions, group.strata)
    keys = tuple(group.strata)
    residents = distribution(await population_tables(session), keys) if keys else None
    weights = {
        stratum: (
            residents.get(tuple(b for _, b in stratum_bands(stratum)), 0.0) if residents else 1.0
        )
        for stratum in strata
    }
    shared = apportion(group.seats or 0, weights)
    return {stratum: shared[stratum] for stratum in strata}


class QuotaLinesError(ValueError):
    """Typed quotas that could not be read; ``problems`` names each line."""

    def __init__(self, problems: list[str]) -> None:
        """Keep the problems."""
        self.problems = problems
        super().__init__("; ".join(problems))


_SEPARATORS = re.compile("[\\s,;:=\u00d7*\u00b7]+")


def read_quotas(
    text: str, questions: list[BackgroundQuestion], group: FocusGroup
) -> dict[str, int]:
    """Quotas typed one stratum a line, its bands then the seats: ``15-29 sentrum 2``.

    Strata not named keep their quota. Returns the group's quotas with the changes.

    Raises:
        QuotaLinesError: a line names no stratum of the group, or no number of seats.
    """
    chosen = [q for key in group.strata for q in questions if q.key == key]
    quotas = dict(group.quotas or {})
    problems = []
    for number, line in enumerate(text.strip().splitlines(), start=1):
        words = [w for w in _SEPARATORS.split(line.strip().lower()) if w]
        if not words:
            continue
        seats = words[-1]
        bands = words[:-1]
        if not seats.isdecimal() or len(seats) > 4:
            problems.append(f"{number}: {line.strip()}")
            continue
        stratum = _stratum_of(bands, chosen)
        if stratum is None or stratum not in quotas:
            problems.append(f"{number}: {line.strip()}")
            continue
        quotas[stratum] = int(seats)
    if problems:
        raise QuotaLinesError(problems)
    return quotas


def _stratum_of(bands: list[str], chosen: list[BackgroundQuestion]) -> str | None:
    """The stratum named by band ids in the questions' order (or ``*`` for everyone)."""
    if not chosen:
        return EVERYONE if bands in ([], ["*"]) else None
    if len(bands) != len(chosen):
        return None
    for question, band in zip(chosen, bands, strict=True):
        if question.by_key(band) is None:
            return None
    return stratum_key([q.key for q in chosen], bands)


# ---------------------------------------------------------------------- the pool and the draw


@dataclass(frozen=True)
class Candidate:
    """Someone in the pool: their participant id, lottery key and stratum."""

    participant_id: int
    key: str
    stratum: str


async def lottery_keys(session: AsyncSession) -> Any:
    """A function from participant id to lottery key (the secret loaded once)."""
    secret = await instance_secret(session, LOTTERY_SECRET_NAME)
    return lambda participant_id: pseudonym(secret, participant_id)


async def pool(session: AsyncSession, group: FocusGroup) -> list[Candidate]:
    """Everyone who can be drawn for the group now, with their stratum."""
    connection = await session.connection()
    members = audience_condition(Audience(AudienceKind.ARENA, str(group.arena_id)))
    ids = [
        int(pid) for (pid,) in (await connection.execute(core_select(P.c.id).where(members))).all()
    ]
    excluded = await never_drawn(session, ids)
    ids = [pid for pid in ids if pid not in excluded]
    questions = {q.key: q for q in await background_questions(session)}
    chosen = [questions[key] for key in group.strata if key in questions]
    bands = await _bands_of(session, ids, chosen)
    key_of = await lottery_keys(session)
    found = []
    for pid in ids:
        given = bands.get(pid, {})
        if all(q.key in given for q in chosen):
            stratum = stratum_key([q.key for q in chosen], [given[q.key] for q in chosen])
            found.append(Candidate(pid, key_of(pid), stratum))
    return found


async def _bands_of(
    session: AsyncSession, ids: list[int], questions: list[BackgroundQuestion]
) -> dict[int, dict[str, str]]:
    """Each person's bands (ids in the files) for ``questions``; "prefer not to say" left out."""
    if not ids or not questions:
        return {}
    keys = {o.id: (q.key, o.key) for q in questions for o in q.options}
    rows = await session.exec(
        select(ProfileAnswer.participant_id, ProfileAnswer.option_id).where(
            col(ProfileAnswer.participant_id).in_(ids),
            col(ProfileAnswer.question_id).in_([q.id for q in questions]),
            col(ProfileAnswer.option_id).is_not(None),
        )
    )
    found: dict[int, dict[str, str]] = {}
    for pid, option_id in rows.all():
        question, band = keys[option_id]
        found.setdefault(pid, {})[question] = band
    return found


def _check_drawable(group: FocusGroup, now: datetime) -> None:
    if group.state != FocusState.DRAFT:
        raise FocusProblem("not_draft")
    if not (group.title and group.place and group.starts_at and group.seats and group.quotas):
        raise FocusProblem("incomplete")
    if group.starts_at <= now:
        raise FocusProblem("past")
    if sum(group.quotas.values()) < 1:
        raise FocusProblem("quotas")


async def draw_group(
    session: AsyncSession,
    group: FocusGroup,
    now: datetime,
    messages: FocusMessages,
    policy: ReminderPolicy,
    *,
    seed: str | None = None,
) -> int:
    """Draw the group and invite those drawn through the outbox; return how many.

    ``seed`` is chosen at random unless given (tests); it is stored with the pool's size per
    stratum, so the draw can be checked later (docs/focus-groups.md).

    Raises:
        FocusProblem: ``not_draft``, ``incomplete``, ``past`` or ``quotas``.
    """
    _check_drawable(group, now)
    assert group.quotas is not None
    group.seed = seed or new_seed()
    candidates = await pool(session, group)
    by_stratum: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_stratum.setdefault(candidate.stratum, []).append(candidate)
    drawn = draw(
        group.seed, {s: [c.key for c in found] for s, found in by_stratum.items()}, group.quotas
    )
    group.pool = {stratum: len(by_stratum.get(stratum, [])) for stratum in group.quotas}
    group.state = FocusState.DRAWN
    group.drawn_at = group.updated_at = now
    by_key = {c.key: c for c in candidates}
    invited = 0
    for keys in drawn.values():
        for key in keys:
            await _invite(session, group, by_key[key], now, messages, policy)
            invited += 1
    await session.flush()
    return invited


async def _invite(
    session: AsyncSession,
    group: FocusGroup,
    candidate: Candidate,
    now: datetime,
    messages: FocusMessages,
    policy: ReminderPolicy,
    *,
    replacement: bool = False,
) -> FocusMember:
    """Add the person to the group as invited and write their invitation to the outbox."""
    member = FocusMember(
        focus_group_id=group.id or 0,
        participant_id=candidate.participant_id,
        stratum=candidate.stratum,
        lottery_key=candidate.key,
        replacement=replacement,
        invited_at=now,
    )
    session.add(member)
    person = await session.get(Participant, candidate.participant_id)
    arena = await session.get(Arena, group.arena_id)
    assert person is not None
    assert arena is not None
    await enqueue(
        session,
        candidate.participant_id,
        messages.invitation(group, arena, policy.language_of(person.language)),
        kind=INVITATION_KIND,
        due_at=now,
        ref=group.ref,
        expires_at=group.starts_at,
    )
    await session.flush()
    return member


# ---------------------------------------------------------------------- answers


@dataclass(frozen=True)
class FocusReply:
    """What became of a tap on an invitation: the person's state, and who was drawn instead."""

    group: FocusGroup
    member: FocusMember
    replacement: FocusMember | None = None


async def member_of(
    session: AsyncSession, group_id: int, participant_id: int
) -> FocusMember | None:
    """The person's place in the group, if they were drawn."""
    rows = await session.exec(
        select(FocusMember).where(
            FocusMember.focus_group_id == group_id, FocusMember.participant_id == participant_id
        )
    )
    return rows.first()


async def reply(
    session: AsyncSession,
    group_id: int,
    participant_id: int,
    answer: FocusAnswer,
    now: datetime,
    messages: FocusMessages,
    policy: ReminderPolicy,
) -> FocusReply:
    """Take the person's answer; a no draws the next in line of the same stratum.

    "Never" is a no that also records that the person never wants to be drawn again. Saying
    no is final: the seat goes to someone else.

    Raises:
        FocusRefused: ``gone`` (no such group), ``started``, ``not_drawn`` (the person was not
            drawn), ``declined`` (a yes after a no).
    """
    group = await session.get(FocusGroup, group_id)
    if group is None or group.state != FocusState.DRAWN:
        raise FocusRefused("gone")
    if group.starts_at is not None and group.starts_at <= now:
        raise FocusRefused("started", group)
    member = await member_of(session, group_id, participant_id)
    if member is None:
        raise FocusRefused("not_drawn", group)
    if answer == FocusAnswer.NEVER:
        await set_lottery_choice(session, participant_id, may_draw=False, now=now)
    if answer == FocusAnswer.YES and member.state == MemberState.DECLINED:
        raise FocusRefused("declined", group)
    if member.state == MemberState.DECLINED:
        return FocusReply(group, member)  # a second no changes nothing
    member.state = MemberState.ACCEPTED if answer == FocusAnswer.YES else MemberState.DECLINED
    member.answered_at = now
    await session.flush()
    if member.state == MemberState.ACCEPTED:
        return FocusReply(group, member)
    replacement = await replace(session, group, member.stratum, now, messages, policy)
    return FocusReply(group, member, replacement)


async def replace(
    session: AsyncSession,
    group: FocusGroup,
    stratum: str,
    now: datetime,
    messages: FocusMessages,
    policy: ReminderPolicy,
) -> FocusMember | None:
    """Invite the next in line of ``stratum`` (nobody drawn before); None when none is left."""
    assert group.seed is not None
    taken = await session.exec(
        select(FocusMember.lottery_key).where(FocusMember.focus_group_id == group.id)
    )
    candidates = [c for c in await pool(session, group) if c.stratum == stratum]
    key = next_in_line(group.seed, [c.key for c in candidates], taken.all())
    if key is None:
        return None
    chosen = next(c for c in candidates if c.key == key)
    return await _invite(session, group, chosen, now, messages, policy, replacement=True)


# ---------------------------------------------------------------------- what staff see


@dataclass(frozen=True)
class StratumCount:
    """One stratum of a drawn group: its quota, pool and people by state."""

    stratum: str
    quota: int
    pool: int
    invited: int = 0
    accepted: int = 0
    declined: int = 0

    @property
    def open_seats(self) -> int:
        """Seats not taken by a yes or waiting for an answer."""
        return max(self.quota - self.accepted - self.invited, 0)


async def composition(session: AsyncSession, group: FocusGroup) -> list[StratumCount]:
    """The group's strata: quota, pool at the draw, and who was invited, said yes or no."""
    rows = await session.exec(
        select(FocusMember.stratum, FocusMember.state).where(
            FocusMember.focus_group_id == group.id
        )
    )
    tally: dict[str, dict[str, int]] = {}
    for stratum, state in rows.all():
        counts = tally.setdefault(stratum, {})
        counts[state] = counts.get(state, 0) + 1
    quotas: Mapping[str, int] = group.quotas or {}
    return [
        StratumCount(
            stratum,
            quota,
            (group.pool or {}).get(stratum, 0),
            tally.get(stratum, {}).get(MemberState.INVITED, 0),
            tally.get(stratum, {}).get(MemberState.ACCEPTED, 0),
            tally.get(stratum, {}).get(MemberState.DECLINED, 0),
        )
        for stratum, quota in quotas.items()
        if quota or tally.get(stratum)
    ]


@dataclass(frozen=True)
class DrawRecordRow:
    """One line of a draw's record: a pool member's stratum, key, rank and state."""

    stratum: str
    key: str
    rank: str
    state: str


async def draw_record(session: AsyncSession, group: FocusGroup) -> list[DrawRecordRow]:
    """Everyone drawn and everyone in the pool now, by stratum and rank, for checking a draw."""
    assert group.seed is not None
    members = (
        await session.exec(select(FocusMember).where(FocusMember.focus_group_id == group.id))
    ).all()
    states = {m.lottery_key: (m.stratum, str(m.state)) for m in members}
    for candidate in await pool(session, group):
        states.setdefault(candidate.key, (candidate.stratum, "pool"))
    rows = [
        DrawRecordRow(stratum, key, rank(group.seed, key), state)
        for key, (stratum, state) in states.items()
    ]
    return sorted(rows, key=lambda r: (r.stratum, r.rank))


async def drawn_groups(session: AsyncSession, now: datetime, limit: int) -> list[FocusGroup]:
    """Drawn groups that have not met yet, soonest first."""
    rows = await session.exec(
        select(FocusGroup)
        .where(FocusGroup.state == FocusState.DRAWN, col(FocusGroup.starts_at) > now)
        .order_by(col(FocusGroup.starts_at))
        .limit(limit)
    )
    return list(rows.all())
