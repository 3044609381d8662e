"""Follow-ups: "you said, we did" notices, the opt-in to them, and /stop.

**Opt-in.** At the end of a consultation the person is asked whether they want to hear what
came of it. Each answer is a :class:`models.participant.Consent` row of kind
``followup:<consultation slug>`` (what, given or declined, when); withdrawing sets its
``withdrawn_at``. The latest decision counts, as for the privacy notice.

**Outcomes.** Once a consultation is closed, staff write what came of it (a text, links
allowed, and optionally a document) as a draft :class:`Outcome` and publish it: everyone who
answered and opted in gets it through the outbox, written in the same transaction.

**/stop** records that the person wants no messages that are not replies
(:class:`models.stops.MessageStop`) and cancels their unsent ones at once; broadcasts leave
them out and the delivery worker drops anything that slips through. ``/start`` brings them
back, with the reminders of events they still plan to attend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    ForeignKey,
    Integer,
    String,
    and_,
    exists,
    func,
    update,
)
from sqlalchemy import Text as SQLText
from sqlalchemy import select as core_select
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.answers import Response
from models.arenas import Arena, Subscription, find_arena, subscribed_arena_ids
from models.base import UTCDateTime, table_of, utcnow
from models.consultation import Consultation, Status, is_open
from models.drafts import start_draft
from models.events import EventMessages, restore_reminders
from models.outbox.audiences import count_participants
from models.outbox.messages import cancel_pending, enqueue_for_everyone
from models.outbox.tables import D, DeliveryState
from models.participant import Consent, Participant, consent_condition, latest_is_yes
from models.reminders import ReminderPolicy
from models.stops import clear_stop, mark_stopped, not_stopped

FOLLOWUP = "followup"
FOLLOWUP_VERSION = "1"
OUTCOME_KIND = "outcome"
#: Staff text of an outcome: room is left below Telegram's 4096 for the heading.
OUTCOME_LIMIT = 3500
OUTCOME_BATCH = 1000

Payload = dict[str, Any]

P = table_of(Participant)
R = table_of(Response)


# ---------------------------------------------------------------------- the opt-in


def followup_kind(consultation: Consultation) -> str:
    """The consent kind of follow-ups about a consultation."""
    return f"{FOLLOWUP}:{consultation.slug}"


async def _latest(session: AsyncSession, participant_id: int, kind: str) -> Consent | None:
    rows = await session.exec(
        select(Consent)
        .where(col(Consent.participant_id) == participant_id, col(Consent.kind) == kind)
        .order_by(col(Consent.decided_at).desc(), col(Consent.id).desc())
        .limit(1)
    )
    return rows.first()


async def wants_followup(
    session: AsyncSession, participant_id: int, consultation: Consultation
) -> bool | None:
    """True when the person asked to hear what came of it, False when they said no or
    withdrew, None when they were never asked (or never answered)."""
    latest = await _latest(session, participant_id, followup_kind(consultation))
    if latest is None:
        return None
    return latest.granted and latest.withdrawn_at is None


@dataclass
class Offers:
    """What is offered when a consultation is finished, and the person's answer to each.

    ``wanted``: hear what came of it (None: not answered yet). ``arena``: the consultation's
    arena, when it names one that exists, and ``joined``: whether the person is a member.
    """

    consultation: Consultation
    wanted: bool | None
    arena: Arena | None = None
    joined: bool = False


async def offers_after(
    session: AsyncSession, participant_id: int, consultation: Consultation
) -> Offers:
    """The offers at the end of ``consultation``, with the person's answers so far."""
    offers = Offers(consultation, await wants_followup(session, participant_id, consultation))
    if consultation.arena_slug:
        offers.arena = await find_arena(session, consultation.arena_slug)
        if offers.arena is not None:
            offers.joined = offers.arena.id in await subscribed_arena_ids(session, participant_id)
    return offers


async def record_followup(
    session: AsyncSession,
    participant: Participant,
    consultation: Consultation,
    wanted: bool,
    now: datetime,
) -> bool:
    """Record the person's yes or no to follow-ups; False when it was their answer already.

    A no after a yes withdraws the yes (its ``withdrawn_at``), so the record shows both.
    """
    kind = followup_kind(consultation)
    latest = await _latest(session, participant.id or 0, kind)
    current = latest is not None and latest.granted and latest.withdrawn_at is None
    if wanted == current and latest is not None:
        return False
    if not wanted and latest is not None and current:
        latest.withdrawn_at = now
    else:
        session.add(
            Consent(
                participant_id=participant.id or 0,
                kind=kind,
                version=FOLLOWUP_VERSION,
                granted=wanted,
                decided_at=now,
            )
        )
    await session.flush()
    return True


async def followups_of(session: AsyncSession, participant: Participant) -> list[Consultation]:
    """The consultations the person wants to hear about now, newest first."""
    consultations = (
        await session.exec(
            select(Consultation)
            .join(Response, col(Response.consultation_id) == col(Consultation.id))
            .where(col(Response.participant_id) == participant.id)
            .order_by(col(Consultation.created_at).desc(), col(Consultation.id).desc())
        )
    ).all()
    wanted = []
    for consultation in consultations:
        if await wants_followup(session, participant.id or 0, consultation):
            wanted.append(consultation)
    return wanted


def followup_condition(kind: str) -> ColumnElement[bool]:
    """The participant's latest decision of ``kind`` is a yes not withdrawn (as SQL)."""
    return latest_is_yes(kind, alias="fc")


# ---------------------------------------------------------------------- outcomes


class OutcomeState(StrEnum):
    """Where a "you said, we did" notice is."""

    DRAFT = "draft"
    PUBLISHED = "published"


class Outcome(SQLModel, table=True):
    """What came of a consultation, as staff wrote it; sent once published."""

    id: int | None = Field(default=None, primary_key=True)
    consultation_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("consultation.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    state: str = Field(default=OutcomeState.DRAFT, sa_column=Column(String(16), nullable=False))
    # The staff member's Telegram user id and chat (not foreign keys; cleared on erasure).
    created_by: int | None = Field(default=None, sa_column=Column(BigInteger, index=True))
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    staff_language: str = Field(default="nb", max_length=5)
    text: str | None = Field(default=None, sa_column=Column(SQLText))  # HTML
    # A document staff attached: Telegram's file id, sent again by id, and its name.
    document_file_id: str | None = Field(default=None, max_length=200)
    document_name: str | None = Field(default=None, max_length=200)
    recipients: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OutcomeProblem(ValueError):
    """An outcome that cannot be sent: ``open`` (the consultation still takes answers),
    ``empty`` (no text), ``too_long``, ``not_draft``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def is_closed(consultation: Consultation, now: datetime) -> bool:
    """A consultation that took answers and no longer does (closed, or past its end)."""
    if is_open(consultation, now):
        return False
    return consultation.status == Status.CLOSED or (
        consultation.status == Status.OPEN
        and consultation.closes_at is not None
        and consultation.closes_at <= now
    )


async def closed_consultations(
    session: AsyncSession, now: datetime, limit: int = 8
) -> list[Consultation]:
    """Consultations that are closed, most recently changed first."""
    rows = await session.exec(
        select(Consultation)
        .where(col(Consultation.status).in_([Status.OPEN, Status.CLOSED]))
        .order_by(col(Consultation.updated_at).desc(), col(Consultation.id).desc())
    )
    return [c for c in rows.all() if is_closed(c, now)][:limit]


async def new_outcome_draft(
    session: AsyncSession,
    consultation_id: int,
    created_by: int,
    chat_id: int,
    language: str,
    now: datetime,
) -> Outcome:
    """Start writing what came of a consultation."""
    draft = Outcome(consultation_id=consultation_id)
    return await start_draft(session, draft, created_by, chat_id, language, now)


def _audience(consultation: Consultation) -> ColumnElement[bool]:
    """Who gets an outcome: answered, asked to hear, consented, reachable, not stopped."""
    return and_(
        exists().where(R.c.participant_id == P.c.id, R.c.consultation_id == consultation.id),
        followup_condition(followup_kind(consultation)),
        P.c.unreachable_at.is_(None),
        not_stopped(P.c.id),
        consent_condition(),
    )


async def count_outcome_audience(session: AsyncSession, consultation: Consultation) -> int:
    """How many people would get an outcome of the consultation now."""
    return await count_participants(session, _audience(consultation))


async def publish_outcome(
    session: AsyncSession,
    outcome: Outcome,
    consultation: Consultation,
    now: datetime,
    payloads: Callable[[str], list[Payload]],
    default_language: str = "nb",
) -> int:
    """Send the outcome to everyone who answered and asked to hear; return how many.

    ``payloads(language)`` renders the messages one person gets (the text, then the document).

    Raises:
        OutcomeProblem: the consultation is still open, the text is missing, or it was sent.
    """
    if outcome.state != OutcomeState.DRAFT:
        raise OutcomeProblem("not_draft")
    if not is_closed(consultation, now):
        raise OutcomeProblem("open")
    if not (outcome.text or "").strip():
        raise OutcomeProblem("empty")
    outcome.state = OutcomeState.PUBLISHED
    outcome.published_at = now
    outcome.updated_at = now
    await session.flush()
    outcome.recipients = await enqueue_for_everyone(
        session,
        _audience(consultation),
        lambda code: [(OUTCOME_KIND, payload) for payload in payloads(code)],
        lambda language: language or default_language,
        ref=f"outcome:{outcome.id}",
        now=now,
        batch=OUTCOME_BATCH,
    )
    await session.flush()
    return outcome.recipients


# ---------------------------------------------------------------------- /stop and /start


async def stop_messages(
    session: AsyncSession,
    participant: Participant,
    now: datetime,
    *,
    withdraw_opt_ins: bool = False,
) -> int:
    """The person wants no messages that are not replies; return how many unsent ones ended.

    Every unsent outbox row of theirs is cancelled at once (broadcasts, invitations,
    reminders, follow-ups) in this transaction. With ``withdraw_opt_ins`` (consent withdrawn)
    their arena subscriptions and follow-up opt-ins end too.
    """
    await mark_stopped(session, participant.id or 0, now)
    cancelled = await cancel_pending(session, participant_id=participant.id, detail="stopped")
    if withdraw_opt_ins:
        await session.exec(
            update(Subscription)  # type: ignore[call-overload]
            .where(
                col(Subscription.participant_id) == participant.id,
                col(Subscription.withdrawn_at).is_(None),
            )
            .values(withdrawn_at=now)
        )
        await session.exec(
            update(Consent)  # type: ignore[call-overload]
            .where(
                col(Consent.participant_id) == participant.id,
                col(Consent.kind).startswith(f"{FOLLOWUP}:"),
                col(Consent.granted).is_(True),
                col(Consent.withdrawn_at).is_(None),
            )
            .values(withdrawn_at=now)
        )
    await session.flush()
    return cancelled


async def resume_messages(
    session: AsyncSession,
    participant: Participant,
    now: datetime,
    messages: EventMessages,
    policy: ReminderPolicy,
) -> bool:
    """Bring a person who sent /stop back; False when they had not stopped.

    Reminders of upcoming events they said yes to are written again; broadcasts, invitations
    and notices that went out meanwhile are not sent after the fact.
    """
    if not await clear_stop(session, participant.id or 0):
        return False
    await restore_reminders(session, participant, now, messages, policy)
    return True


async def pending_for(session: AsyncSession, participant_id: int) -> int:
    """How many messages wait to be sent to the person."""
    connection = await session.connection()
    statement = (
        core_select(func.count())
        .select_from(D)
        .where(D.c.participant_id == participant_id, D.c.state == DeliveryState.PENDING)
    )
    return int((await connection.execute(statement)).scalar_one())
