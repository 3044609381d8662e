"""The outbox's tables: broadcasts and deliveries, and the states they go through.

A :class:`Broadcast` goes ``draft`` (staff are composing it; the draft *is* the conversation
state) → ``scheduled`` (confirmed; starts at ``scheduled_at``) → ``running`` ⇄ ``paused`` →
``done`` or ``cancelled``. A :class:`Delivery` is one message to one person, of a broadcast or
on its own (a reminder, a follow-up): ``pending`` until the worker records what became of it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

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
)
from sqlmodel import Field, SQLModel

from models.base import Text, UTCDateTime, table_of, utcnow


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


#: The tables themselves, for statements over many rows (a broadcast writes thousands).
B = table_of(Broadcast)
D = table_of(Delivery)
