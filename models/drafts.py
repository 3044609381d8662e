"""Staff drafts of events and outcomes: rows a staff member composes over several messages.

The draft row *is* the conversation: its ``step`` says what the staff member's next typed message
fills, so a restart or another replica carries on where they were. An event draft and an
outcome draft are started and found again the same way; these two functions hold that way.
(A broadcast draft has rules of its own: :mod:`models.outbox.drafts`.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, TypeVar, cast

from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import table_of

#: The ``state`` of a row that is still a draft.
DRAFT = "draft"


class StaffDraft(Protocol):
    """What every draft table has: who writes it, in which chat and language, and the step."""

    created_by: int | None
    chat_id: int | None
    staff_language: str
    step: str | None
    created_at: datetime
    updated_at: datetime


DraftT = TypeVar("DraftT", bound=StaffDraft)


async def start_draft(
    session: AsyncSession,
    draft: DraftT,
    created_by: int,
    chat_id: int,
    language: str,
    step: str,
    now: datetime,
) -> DraftT:
    """Store a new draft of the staff member (Telegram user id, chat, language) at ``step``."""
    draft.created_by = created_by
    draft.chat_id = chat_id
    draft.staff_language = language
    draft.step = step
    draft.created_at = now
    draft.updated_at = now
    session.add(draft)
    await session.flush()
    return draft


async def newest_draft(
    session: AsyncSession, model: type[DraftT], created_by: int, since: datetime
) -> DraftT | None:
    """The staff member's newest draft of this kind touched since ``since``, if any."""
    table = table_of(cast(type[SQLModel], model))
    rows = await session.exec(
        select(model)
        .where(
            table.c.created_by == created_by,
            table.c.state == DRAFT,
            table.c.updated_at >= since,
        )
        .order_by(table.c.updated_at.desc(), table.c.id.desc())
        .limit(1)
    )
    return rows.first()
