"""The web chat's conversation as it is shown: every message of a web resident's chat.

Telegram keeps a chat's messages on its servers; the municipality's own web chat keeps them here,
so a resident who comes back (tomorrow, or after a restart) sees the conversation, and messages
that arrive while they are away (a reminder, what came of a consultation) wait for them.

Rows are keyed by the chat id, which for a web resident is their participant's
``telegram_user_id`` (:mod:`models.channels`). The column is a big integer without a foreign key,
so erasing the person (:func:`models.privacy.erase`) deletes their whole chat with everything
else. What the chat holds beyond the participant's own data (their typed messages, the bot's
words) is pruned after a while (:func:`prune_chats`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    delete,
    exists,
    func,
    or_,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime
from models.participant import Participant

#: Who a message is from: the bot, the resident, or a short notice (a button's toast).
BOT, RESIDENT, NOTICE = "bot", "resident", "notice"
#: A chat without a participant (nobody consented) is forgotten after this long.
KEEP_WITHOUT_CONSENT = timedelta(days=7)
#: Request nonces guard against a form sent twice; a day is far longer than a double click.
KEEP_NONCES = timedelta(days=1)
#: Files the bot sent (a /mydata download) are kept this long; the message stays, saying so.
KEEP_FILES = timedelta(days=1)

Keyboard = list[list[dict[str, str]]]


class WebMessage(SQLModel, table=True):
    """One message in a web resident's chat, as it is shown now (edits replace it)."""

    __tablename__ = "web_message"
    __table_args__ = (Index("ix_web_message_chat", "chat_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    sender: str = Field(sa_column=Column(String(8), nullable=False))
    # The bot's text is Telegram's HTML subset; the resident's is plain text.
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    # Inline keyboard rows as the Bot API has them: [[{"text", "callback_data" | "url"}]].
    buttons: Keyboard | None = Field(default=None, sa_column=Column(JSON))
    # A native poll: {"id", "question", "options", "multiple", "closed", "chosen"}.
    poll: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    file_name: str | None = Field(default=None, max_length=120)
    file_type: str | None = Field(default=None, max_length=80)
    file_content: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    created_at: datetime = Field(sa_type=UTCDateTime)
    edited_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebRequest(SQLModel, table=True):
    """A form the resident sent, by the random nonce the page put in it: taken once."""

    __tablename__ = "web_request"
    __table_args__ = (UniqueConstraint("chat_id", "nonce", name="uq_web_request_nonce"),)

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    nonce: str = Field(sa_column=Column(String(32), nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)


@dataclass(frozen=True)
class Document:
    """A file the bot sends into the chat."""

    name: str
    content: bytes
    mime_type: str


async def add_message(
    session: AsyncSession,
    chat_id: int,
    sender: str,
    text: str,
    now: datetime,
    *,
    buttons: Keyboard | None = None,
    poll: dict[str, Any] | None = None,
    document: Document | None = None,
) -> WebMessage:
    """Append a message to the chat."""
    message = WebMessage(
        chat_id=chat_id,
        sender=sender,
        text=text,
        buttons=buttons or None,
        poll=poll,
        created_at=now,
    )
    if document is not None:
        message.file_name = document.name[:120]
        message.file_type = document.mime_type[:80]
        message.file_content = document.content
    session.add(message)
    await session.flush()
    return message


async def find_message(session: AsyncSession, chat_id: int, message_id: int) -> WebMessage | None:
    """The chat's message with this id; None for another chat's or a deleted one."""
    message = await session.get(WebMessage, message_id)
    return message if message is not None and message.chat_id == chat_id else None


async def edit_message(
    session: AsyncSession,
    chat_id: int,
    message_id: int,
    now: datetime,
    *,
    text: str | None = None,
    buttons: Keyboard | None = None,
) -> WebMessage | None:
    """Replace a message's text (when given) and its buttons; None when there is no such one."""
    message = await find_message(session, chat_id, message_id)
    if message is None:
        return None
    if text is not None:
        message.text = text
    message.buttons = buttons or None
    message.edited_at = now
    await session.flush()
    return message


async def delete_message(session: AsyncSession, chat_id: int, message_id: int) -> bool:
    """Remove a message from the chat; False when there is no such one."""
    message = await find_message(session, chat_id, message_id)
    if message is None:
        return False
    await session.delete(message)
    await session.flush()
    return True


async def find_poll(session: AsyncSession, poll_id: str) -> WebMessage | None:
    """The message holding the native poll with this id (polls are few: a scan will do)."""
    rows = await session.exec(
        select(WebMessage).where(col(WebMessage.poll).is_not(None)).order_by(col(WebMessage.id))
    )
    for message in rows.all():
        if message.poll and message.poll.get("id") == poll_id:
            return message
    return None


async def set_poll(session: AsyncSession, message: WebMessage, **changes: Any) -> WebMessage:
    """Change fields of a message's poll (``closed``, ``chosen``)."""
    message.poll = {**(message.poll or {}), **changes}
    await session.flush()
    return message


async def recent_messages(session: AsyncSession, chat_id: int, limit: int) -> list[WebMessage]:
    """The chat's newest ``limit`` messages, oldest first."""
    rows = await session.exec(
        select(WebMessage)
        .where(WebMessage.chat_id == chat_id)
        .order_by(col(WebMessage.id).desc())
        .limit(limit)
    )
    return list(reversed(rows.all()))


async def messages_after(
    session: AsyncSession, chat_id: int, after: int, limit: int
) -> list[WebMessage]:
    """The chat's messages newer than id ``after``, oldest first, at most ``limit``."""
    rows = await session.exec(
        select(WebMessage)
        .where(WebMessage.chat_id == chat_id, col(WebMessage.id) > after)
        .order_by(col(WebMessage.id))
        .limit(limit)
    )
    return list(rows.all())


async def messages_changed(
    session: AsyncSession, chat_id: int, after: int, changed: set[int], limit: int
) -> list[WebMessage]:
    """The chat's messages newer than id ``after``, and those with the ids in ``changed``."""
    newer = col(WebMessage.id) > after
    condition = or_(newer, col(WebMessage.id).in_(sorted(changed))) if changed else newer
    rows = await session.exec(
        select(WebMessage)
        .where(WebMessage.chat_id == chat_id, condition)
        .order_by(col(WebMessage.id))
        .limit(limit)
    )
    return list(rows.all())


async def messages_by_id(session: AsyncSession, chat_id: int, ids: set[int]) -> list[WebMessage]:
    """The chat's messages with these ids (others' are left out), oldest first."""
    if not ids:
        return []
    rows = await session.exec(
        select(WebMessage)
        .where(WebMessage.chat_id == chat_id, col(WebMessage.id).in_(sorted(ids)))
        .order_by(col(WebMessage.id))
    )
    return list(rows.all())


async def has_messages(session: AsyncSession, chat_id: int) -> bool:
    """Whether the chat has begun."""
    found = await session.exec(select(WebMessage.id).where(WebMessage.chat_id == chat_id).limit(1))
    return found.first() is not None


async def claim_request(
    session: AsyncSession, chat_id: int, nonce: str, now: datetime
) -> int | None:
    """Take a form by its nonce; its number, or None when the same form came before.

    One statement: the unique (chat, nonce) decides, also between two requests at once.
    """
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(WebRequest)
        .values(chat_id=chat_id, nonce=nonce, created_at=now)
        .on_conflict_do_nothing()
        .returning(col(WebRequest.id))
    )
    number = (await session.exec(statement)).scalar_one_or_none()  # type: ignore[call-overload]
    return int(number) if number is not None else None


async def prune_chats(session: AsyncSession, now: datetime, keep_days: int) -> int:
    """Forget what the web chats need no longer; return how many messages went.

    - a chat whose resident never consented (no participant), a week after its last message;
    - every message older than ``keep_days`` (the free-text retention), also of participants;
    - files after a day (the message stays and says the file is gone);
    - nonces after a day.
    """
    participants = select(Participant.id).where(
        col(Participant.telegram_user_id) == col(WebMessage.chat_id)
    )
    latest = (
        select(WebMessage.chat_id)
        .group_by(col(WebMessage.chat_id))
        .having(func.max(col(WebMessage.created_at)) < now - KEEP_WITHOUT_CONSENT)
    )
    result = await session.exec(
        delete(WebMessage).where(  # type: ignore[call-overload]
            or_(
                col(WebMessage.created_at) < now - timedelta(days=keep_days),
                col(WebMessage.chat_id).in_(latest) & ~exists(participants),
            )
        )
    )
    removed = int(result.rowcount or 0)
    await session.exec(
        WebMessage.__table__.update()  # type: ignore[attr-defined]
        .where(
            col(WebMessage.file_content).is_not(None),
            col(WebMessage.created_at) < now - KEEP_FILES,
        )
        .values(file_content=None)
    )
    await session.exec(
        delete(WebRequest).where(  # type: ignore[call-overload]
            col(WebRequest.created_at) < now - KEEP_NONCES
        )
    )
    return removed
