"""Staff drafts: broadcasts, events and outcomes that a staff member composes step by step.

The draft holds what was entered; where the staff member is in the dialog is a
:class:`models.dialogs.Dialog` row of the wizard engine. Event and outcome drafts are started
the same way (a broadcast draft has rules of its own: :mod:`models.outbox.drafts`), and every
draft is found again the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

#: The ``state`` of a row that is still a draft.
DRAFT = "draft"


class StaffDraft(Protocol):
    """What every draft table has: who writes it, in which chat and language, and when."""

    created_by: int | None
    chat_id: int | None
    staff_language: str
    state: str
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


async def open_draft(session: AsyncSession, model: type[DraftT], draft_id: int) -> DraftT | None:
    """The draft with this id; None when it is gone or was sent, published or cancelled."""
    draft = await session.get(model, draft_id)
    return draft if draft is not None and draft.state == DRAFT else None
