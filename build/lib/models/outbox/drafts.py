"""Broadcast drafts: composing a broadcast, and confirming it.

The draft holds the content and the audience; where the staff member is in the dialog is a
:class:`models.dialogs.Dialog` row of the wizard engine. Confirming turns the draft into a
scheduled broadcast (:mod:`models.outbox.broadcasts` takes it from there).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.outbox.audiences import Audience, count_audience
from models.outbox.tables import Broadcast, BroadcastState

#: Telegram's limit for a message text; an announcement keeps some room below it.
ANNOUNCEMENT_LIMIT = 4000


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
    if broadcast.scheduled_at is None or broadcast.scheduled_at < now:
        broadcast.scheduled_at = now
    broadcast.audience_size = size
    broadcast.confirmed_at = now
    broadcast.updated_at = now
    broadcast.progress_message_id = progress_message_id
    await session.flush()
    return size
