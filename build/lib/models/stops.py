"""``/stop``: a person's wish to get no messages that are not replies, until ``/start``.

One row per person who stopped (what and when, like a consent decision); ``/start`` removes
it. Broadcast audiences, invitations, reminders and follow-ups leave these people out
(:func:`not_stopped`), and the delivery worker drops anything that slipped through.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, ForeignKey, Integer, exists
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime, table_of, utcnow


class MessageStop(SQLModel, table=True):
    """The person sent /stop at ``stopped_at``."""

    __tablename__ = "message_stop"

    participant_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("participant.id", ondelete="CASCADE"), primary_key=True
        )
    )
    stopped_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


STOPS = table_of(MessageStop)


def not_stopped(participant_id: Any) -> ColumnElement[bool]:
    """SQL: the participant whose id is in this column did not send /stop."""
    return ~exists().where(STOPS.c.participant_id == participant_id)


async def stopped_at(session: AsyncSession, participant_id: int) -> datetime | None:
    """When the person sent /stop, or None when they get messages."""
    found = await session.get(MessageStop, participant_id)
    return found.stopped_at if found is not None else None


async def mark_stopped(session: AsyncSession, participant_id: int, now: datetime) -> bool:
    """Record the /stop; False when the person had stopped already."""
    if await session.get(MessageStop, participant_id) is not None:
        return False
    session.add(MessageStop(participant_id=participant_id, stopped_at=now))
    await session.flush()
    return True


async def clear_stop(session: AsyncSession, participant_id: int) -> bool:
    """Remove the /stop; False when there was none."""
    found = await session.get(MessageStop, participant_id)
    if found is None:
        return False
    await session.delete(found)
    await session.flush()
    return True
