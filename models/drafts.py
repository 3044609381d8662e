"""Staff drafts of events and outcomes: rows a staff member composes over several messages.

The draft holds what was entered; where the staff member is in the dialog is a
:class:`models.dialogs.Dialog` row of the wizard engine. An event draft and an outcome draft
are started the same way; this function holds that way. (A broadcast draft has rules of its
own: :mod:`models.outbox.drafts`.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession


class StaffDraft(Protocol):
    """What every draft table has: who writes it, in which chat and language, and when."""

    created_by: int | None
    chat_id: int | None
    staff_language: str
    created_at: datetime
    updated_at: datetime


DraftT = TypeVar("DraftT", bound=StaffDraft)


async def start_draft(
    session: AsyncSession,
    draft: DraftT,
    created_by: int,
    chat_id: int,
    language: str,
    now: datetime,
) -> DraftT:
    """Store a new draft of the staff member (Telegram user id, chat, language)."""
    draft.created_by = created_by
    draft.chat_id = chat_id
    draft.staff_language = language
    draft.created_at = now
    draft.updated_at = now
    session.add(draft)
    await session.flush()
    return draft
