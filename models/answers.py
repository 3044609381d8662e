"""What people answered, as stored: a response per person and consultation, an answer per question.

Tables only. The rules that write them are the answering flow (:mod:`models.response`); the
consultation's own rules (locking answered questions, counting responses), moderation, results
and exports read them. Keeping the tables apart from the flow lets all of those import them
without importing the flow, which itself needs consultations and moderation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy import Text as SQLText
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow


class Response(SQLModel, table=True):
    """One person's way through one consultation."""

    __table_args__ = (UniqueConstraint("participant_id", "consultation_id"),)

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("participant.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    consultation_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("consultation.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    source: str | None = Field(default=None, max_length=64)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The question being asked; None once the person reached the summary.
    current_question_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("question.id", ondelete="SET NULL")),
    )
    # True while changing one answer from the summary: the next step is the summary again.
    editing: bool = False
    # The language the person answers in, chosen when it is begun: its questions, buttons and
    # free texts are in it (migration 0011 gave older responses the language they were shown in).
    language: str | None = Field(default=None, max_length=8)


class Answer(SQLModel, table=True):
    """A person's answer to one question; a skipped question has a row with ``skipped``."""

    __table_args__ = (
        UniqueConstraint("response_id", "question_id"),
        # Results count answers, skips and scale values per question from this index alone,
        # without reading the table (docs/benchmarks.md); queries by question use its prefix.
        Index("ix_answer_question_skipped_number", "question_id", "skipped", "number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    response_id: int = Field(
        sa_column=Column(Integer, ForeignKey("response.id", ondelete="CASCADE"), nullable=False)
    )
    question_id: int = Field(
        sa_column=Column(Integer, ForeignKey("question.id", ondelete="CASCADE"), nullable=False)
    )
    number: int | None = None
    text: str | None = Field(default=None, sa_column=Column(SQLText))
    skipped: bool = False
    answered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AnswerChoice(SQLModel, table=True):
    """An option picked in a choice answer (several for multiple choice)."""

    answer_id: int = Field(
        sa_column=Column(Integer, ForeignKey("answer.id", ondelete="CASCADE"), primary_key=True)
    )
    option_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("option.id", ondelete="CASCADE"), primary_key=True, index=True
        )
    )
