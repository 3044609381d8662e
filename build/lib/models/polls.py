"""Native Telegram polls: one-question consultations answered in Telegram's own poll.

Each poll message sent to a person is a row, so a vote (``poll_answer``) finds its person and
question after a restart, and the bot can stop every poll when the consultation closes: Telegram
closes polls by itself only within ten minutes (``open_period``), far shorter than a
consultation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, String, or_
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.answers import Response
from models.base import TelegramId, UTCDateTime, utcnow
from models.consultation import (
    Consultation,
    ConsultationView,
    Status,
    load_consultation,
)
from models.consultation_file import (
    ConsultationSpec,
    OptionSpec,
    QuestionSpec,
    QuestionType,
)
from models.participant import Participant
from models.response import Position, record_choices

# Telegram's limits for polls.
POLL_QUESTION_LIMIT = 300
POLL_OPTION_LIMIT = 100
POLL_MAX_OPTIONS = 12


class PollMessage(SQLModel, table=True):
    """A native poll sent to one person."""

    id: int | None = Field(default=None, primary_key=True)
    poll_id: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    response_id: int = Field(
        sa_column=Column(Integer, ForeignKey("response.id", ondelete="CASCADE"), nullable=False)
    )
    question_id: int = Field(
        sa_column=Column(Integer, ForeignKey("question.id", ondelete="CASCADE"), nullable=False)
    )
    chat_id: int = Field(sa_column=Column(TelegramId, nullable=False))
    message_id: int
    sent_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    stopped_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class PollProblem(ValueError):
    """A typed poll that breaks Telegram's limits; ``problems`` says what to fix."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def poll_spec(slug: str, language: str, question: str, options: list[str]) -> ConsultationSpec:
    """A one-question consultation from a question and its options, within Telegram's limits."""
    problems = []
    if not question.strip():
        problems.append("question")
    elif len(question) > POLL_QUESTION_LIMIT:
        problems.append("question_too_long")
    if len(options) < 2:
        problems.append("too_few_options")
    if len(options) > POLL_MAX_OPTIONS:
        problems.append("too_many_options")
    if any(len(o) > POLL_OPTION_LIMIT for o in options):
        problems.append("option_too_long")
    if len({o.casefold() for o in options}) != len(options):
        problems.append("duplicate_options")
    if problems:
        raise PollProblem(problems)
    return ConsultationSpec(
        slug=slug,
        title={language: question.strip()},
        intro=None,
        opens=None,
        closes=None,
        arena=None,
        languages=(language,),
        questions=(
            QuestionSpec(
                key="q",
                type=QuestionType.SINGLE_CHOICE,
                text={language: question.strip()},
                required=True,
                options=tuple(
                    OptionSpec(f"o{i}", {language: o.strip()}) for i, o in enumerate(options, 1)
                ),
            ),
        ),
    )


def can_be_poll(view: ConsultationView) -> bool:
    """Tell whether a consultation fits a native poll: one choice question within limits."""
    if len(view.questions) != 1:
        return False
    question = view.questions[0]
    return (
        question.type in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE)
        and 2 <= len(question.options) <= POLL_MAX_OPTIONS
        and question.question.max_choices is None
        and all(len(t) <= POLL_QUESTION_LIMIT for t in question.question.text.values())
        and all(len(t) <= POLL_OPTION_LIMIT for o in question.options for t in o.text.values())
    )


async def record_poll(
    session: AsyncSession,
    response_id: int,
    question_id: int,
    *,
    poll_id: str,
    chat_id: int,
    message_id: int,
    now: datetime,
) -> None:
    """Remember a poll sent to a person."""
    session.add(
        PollMessage(
            poll_id=poll_id,
            response_id=response_id,
            question_id=question_id,
            chat_id=chat_id,
            message_id=message_id,
            sent_at=now,
        )
    )
    await session.flush()


class UnknownPoll(LookupError):
    """A vote in a poll this bot does not know, or by someone it was not sent to."""


@dataclass
class Vote:
    """The outcome of a vote: the person's position, or None when they took it back."""

    position: Position
    retracted: bool


async def vote(
    session: AsyncSession,
    participant: Participant,
    poll_id: str,
    option_indexes: list[int],
    now: datetime,
) -> Vote:
    """Store a vote from a native poll as the person's answer (an empty vote retracts it)."""
    poll = (await session.exec(select(PollMessage).where(PollMessage.poll_id == poll_id))).first()
    if poll is None:
        raise UnknownPoll(poll_id)
    response = await session.get(Response, poll.response_id)
    if response is None or response.participant_id != participant.id:
        raise UnknownPoll(poll_id)
    view = await load_consultation(session, response.consultation_id)
    assert view is not None
    question = view.question(poll.question_id)
    if question is None:
        raise UnknownPoll(poll_id)
    option_ids = [
        question.options[i].id or 0 for i in option_indexes if 0 <= i < len(question.options)
    ]
    if len(option_ids) != len(option_indexes):
        raise UnknownPoll(poll_id)
    position = await record_choices(session, view, response, question, option_ids, now)
    return Vote(position, retracted=not option_ids)


async def polls_to_stop(
    session: AsyncSession, now: datetime, limit: int = 100
) -> list[PollMessage]:
    """Polls still open in Telegram whose consultation has closed."""
    rows = await session.exec(
        select(PollMessage)
        .join(Response, col(Response.id) == col(PollMessage.response_id))
        .join(Consultation, col(Consultation.id) == col(Response.consultation_id))
        .where(
            col(PollMessage.stopped_at).is_(None),
            or_(
                col(Consultation.status) == Status.CLOSED,
                col(Consultation.closes_at) <= now,
            ),
        )
        .order_by(col(PollMessage.id))
        .limit(limit)
    )
    return list(rows.all())


async def mark_stopped(session: AsyncSession, poll_ids: list[int], now: datetime) -> None:
    """Remember that these polls were stopped in Telegram."""
    for poll in (
        await session.exec(select(PollMessage).where(col(PollMessage.id).in_(poll_ids)))
    ).all():
        poll.stopped_at = now
    await session.flush()
