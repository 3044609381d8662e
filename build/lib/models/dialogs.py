"""Where a person is in a multi-step staff dialog (a wizard): one row per open dialog.

The dialog's subject (a broadcast, event or outcome draft) holds what was entered; this row
holds only the conversation: which wizard, which step, the steps behind it (for "back"), and
when the person last touched it. Typed text goes to the newest dialog of the person that was
touched within the text window and waits for text (:func:`waiting`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel, col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime

# The trail of steps behind the current one, separated by spaces, newest last.
TRAIL_LENGTH = 240


class Dialog(SQLModel, table=True):
    """One person's open dialog with one wizard about one subject."""

    __table_args__ = (
        UniqueConstraint("wizard", "subject_id", name="uq_dialog_wizard_subject"),
        Index("ix_dialog_user_updated", "user_id", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The staff member's Telegram user id and private chat; not a foreign key, as staff need
    # not be participants. Erasing the person deletes their dialogs.
    user_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    wizard: str = Field(max_length=16)
    # The draft the dialog fills in; None for a wizard without a draft row.
    subject_id: int | None = None
    # The step, optionally with a parameter after a colon ("text:en").
    step: str = Field(max_length=32)
    trail: str = Field(default="", max_length=TRAIL_LENGTH)
    updated_at: datetime = Field(sa_type=UTCDateTime)


async def open_dialog(
    session: AsyncSession,
    *,
    user_id: int,
    chat_id: int,
    wizard: str,
    subject_id: int | None,
    step: str,
    now: datetime,
) -> Dialog:
    """Start a dialog at ``step``; a draft-less wizard's earlier dialog of the person ends."""
    if subject_id is None:
        await session.exec(
            delete(Dialog).where(
                col(Dialog.user_id) == user_id,
                col(Dialog.wizard) == wizard,
                col(Dialog.subject_id).is_(None),
            )
        )
    dialog = Dialog(
        user_id=user_id,
        chat_id=chat_id,
        wizard=wizard,
        subject_id=subject_id,
        step=step,
        updated_at=now,
    )
    session.add(dialog)
    await session.flush()
    return dialog


async def find_dialog(
    session: AsyncSession, user_id: int, wizard: str, subject_id: int | None
) -> Dialog | None:
    """The person's dialog with ``wizard`` about ``subject_id``, or None."""
    subject = (
        col(Dialog.subject_id).is_(None)
        if subject_id is None
        else col(Dialog.subject_id) == subject_id
    )
    query = select(Dialog).where(
        col(Dialog.user_id) == user_id, col(Dialog.wizard) == wizard, subject
    )
    return (await session.exec(query)).first()


async def recent_dialogs(session: AsyncSession, user_id: int, since: datetime) -> list[Dialog]:
    """The person's dialogs touched at or after ``since``, the newest first."""
    query = (
        select(Dialog)
        .where(col(Dialog.user_id) == user_id, col(Dialog.updated_at) >= since)
        .order_by(col(Dialog.updated_at).desc(), col(Dialog.id).desc())
    )
    return list((await session.exec(query)).all())


def step_param(dialog: Dialog) -> str:
    """The step's parameter ("en" in "text:en"), or an empty string."""
    return dialog.step.partition(":")[2]


def previous_step(dialog: Dialog) -> str | None:
    """The step before the current one, if any."""
    trail = dialog.trail.split()
    return trail[-1] if trail else None


def move(dialog: Dialog, step: str, now: datetime) -> None:
    """Go to ``step``, remembering the current one for "back"."""
    if step != dialog.step:
        # The oldest steps fall off when the trail is full; "back" then stops there.
        trail = [*dialog.trail.split(), dialog.step]
        while len(" ".join(trail)) > TRAIL_LENGTH:
            trail.pop(0)
        dialog.trail = " ".join(trail)
        dialog.step = step
    dialog.updated_at = now


def go_back(dialog: Dialog, now: datetime) -> bool:
    """Return to the step before; False when there is none."""
    trail = dialog.trail.split()
    if not trail:
        return False
    dialog.step = trail.pop()
    dialog.trail = " ".join(trail)
    dialog.updated_at = now
    return True


async def close_dialog(session: AsyncSession, dialog: Dialog) -> None:
    """End the dialog (done or cancelled)."""
    await session.delete(dialog)
    await session.flush()
