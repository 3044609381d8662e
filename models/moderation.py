"""Moderation of free-text answers: the queue, decisions, undo, and the moderation group.

Every free-text answer has one :class:`ModerationItem`, created or reset in the same transaction
as the answer (:func:`text_changed`, called from :func:`models.response._store`). The item
links to the answer only (``ON DELETE CASCADE``): erasing the answer or the person removes it,
and nothing in it leads to a person. What moderators get is an :class:`ItemView`: the
consultation's title, the question, and the text already split around personal data
(:mod:`models.masking`); the raw text and the response never leave this module.

Decisions are conditional updates (``... WHERE status = 'pending' AND version = :seen``) whose
row count tells who won, so two moderators pressing at the same moment, on SQLite or on
PostgreSQL, on one replica or two, store one decision and the other is told. ``version`` grows
with every change (decision, undo, a new text from the writer), so a button shown for an older
state can never act on a newer one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    delete,
    func,
    or_,
    update,
)
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.answers import Answer, Response
from models.base import TelegramId, Text, UTCDateTime, localized, utcnow
from models.consultation import Consultation, Question
from models.masking import Kind, Part, screen, split
from models.roles import audit

# A text shown to a moderator in a private review is kept from other private reviews this
# long, so two moderators working through the queue at once see different texts.
RESERVATION = timedelta(minutes=10)
# Telegram lets a bot send about 20 messages a minute to a group; decisions edit messages there
# too, so new texts take at most this many of them.
GROUP_POSTS_PER_MINUTE = 12


class Status(StrEnum):
    """Where a text is in moderation."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    FLAGGED = "flagged"


class Reason(StrEnum):
    """Why a text was rejected."""

    PERSONAL_DATA = "personal_data"
    OFFENSIVE = "offensive"
    SPAM = "spam"
    OFF_TOPIC = "off_topic"
    OTHER = "other"  # the moderator wrote the reason (``ModerationItem.note``)


#: How long a moderator's own reason may be.
NOTE_LIMIT = 200


class ModerationItem(SQLModel, table=True):
    """The review of one free-text answer. Holds no reference to a person."""

    __tablename__ = "moderation_item"

    id: int | None = Field(default=None, primary_key=True)
    answer_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("answer.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        )
    )
    status: str = Field(
        default=Status.PENDING, sa_column=Column(String(16), nullable=False, index=True)
    )
    reason: str | None = Field(default=None, sa_column=Column(String(16)))
    # The reason in the moderator's words, when ``reason`` is "other". Never shown to others
    # than moderators and staff.
    note: str | None = Field(default=None, max_length=NOTE_LIMIT)
    # What the text was found to contain; 1 (first in the queue) when either is true.
    personal_data: bool = False
    abusive: bool = False
    priority: int = 0
    # Grows with every change; buttons carry it, so they act only on what they showed.
    version: int = 1
    # When the current text arrived (a changed text arrives again).
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The moderator's Telegram id.
    decided_by: int | None = Field(default=None, sa_column=Column(TelegramId))
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A private review showing this text right now (see RESERVATION).
    reserved_by: int | None = Field(default=None, sa_column=Column(TelegramId))
    reserved_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The moderation group's message about this text: claimed (posted_at), then sent.
    posted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    group_chat_id: int | None = Field(default=None, sa_column=Column(TelegramId))
    # Integer, not BigInteger: message ids are small, and erasure clears BigInteger columns
    # that equal a person's Telegram id.
    group_message_id: int | None = Field(default=None, sa_column=Column(Integer))
    # A text flagged for staff: the staff member who dealt with it, and when (None: open).
    handled_by: int | None = Field(default=None, sa_column=Column(TelegramId))
    handled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# The queue's order (marked texts first, then the oldest) read straight from an index, so the
# next text is found without sorting every waiting one.
Index(
    "ix_moderation_item_queue",
    col(ModerationItem.status),
    col(ModerationItem.priority).desc(),
    col(ModerationItem.submitted_at),
    col(ModerationItem.id),
)
# A group round's new texts (not posted, arrived since...) and its recent posts, without a scan
# of the texts that will never be posted (those from before the group was registered).
Index(
    "ix_moderation_item_posting",
    col(ModerationItem.posted_at),
    col(ModerationItem.submitted_at),
)


class ModerationGroup(SQLModel, table=True):
    """The group chat where new texts are posted for moderators (one at a time)."""

    __tablename__ = "moderation_group"

    chat_id: int = Field(sa_column=Column(TelegramId, primary_key=True, autoincrement=False))
    registered_by: int | None = Field(default=None, sa_column=Column(TelegramId))
    registered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


@dataclass(frozen=True)
class ItemView:
    """What a moderator may see of one text: no id, no name, nothing that leads to a person."""

    id: int
    version: int
    status: Status
    reason: Reason | None
    note: str | None
    consultation_title: Text
    question_text: Text
    languages: list[str]
    parts: tuple[Part, ...]
    """The text, split around personal data: literal pieces and the kinds found."""
    personal_data: frozenset[Kind]
    abusive: bool
    decided_by: int | None
    """The deciding moderator's Telegram id (to tell "you" from "another moderator")."""
    group_chat_id: int | None
    group_message_id: int | None
    handled_by: int | None = None
    """The staff member who dealt with a flagged text (None: not yet)."""
    language: str | None = None
    """The language the text was written in: the one its writer answered the consultation in."""

    def title(self, language: str) -> str:
        """The consultation's title in ``language``, with fallback."""
        return localized(self.consultation_title, language, self.languages[0])

    def question(self, language: str) -> str:
        """The question's text in ``language``, with fallback."""
        return localized(self.question_text, language, self.languages[0])

    @property
    def pending(self) -> bool:
        """True while no decision stands."""
        return self.status is Status.PENDING


class ModerationError(Exception):
    """A decision that cannot be taken; nothing was stored."""


class ItemGone(ModerationError):
    """No such text: its writer erased it or changed the answer so it no longer applies."""


class Conflict(ModerationError):
    """The text is not in the state the button showed; ``item`` is how it is now."""

    def __init__(self, item: ItemView) -> None:
        super().__init__(self.__class__.__name__)
        self.item = item


class AlreadyDecided(Conflict):
    """Another decision (maybe by the same moderator) came first."""


class TextChanged(Conflict):
    """The writer changed the text since the button was shown; it is pending again."""


class NotUndoable(Conflict):
    """The decision is not this moderator's, or it changed since."""


def _attention(personal_data: bool, abusive: bool) -> int:
    return 1 if personal_data or abusive else 0


async def text_changed(
    session: AsyncSession, answer_id: int, text: str | None, now: datetime
) -> None:
    """Queue a new or changed free text as pending; drop the item of a text taken back.

    Called in the answer's transaction whenever its text changes. A changed text is a new
    text to review: any decision on the old one no longer applies.
    """
    if text is None:
        await session.exec(  # type: ignore[call-overload]
            delete(ModerationItem).where(col(ModerationItem.answer_id) == answer_id)
        )
        return
    values = _pending(text, now)
    result = await session.exec(  # type: ignore[call-overload]
        update(ModerationItem)
        .where(col(ModerationItem.answer_id) == answer_id)
        .values(**values, version=col(ModerationItem.version) + 1)
    )
    if not result.rowcount:
        session.add(ModerationItem(answer_id=answer_id, **values))
        await session.flush()


def _pending(text: str, now: datetime) -> dict[str, Any]:
    """The columns of a text waiting for review, screened: no decision, post or flag yet."""
    found = screen(text)
    personal_data = bool(found.personal_data)
    return {
        "status": Status.PENDING.value,
        "reason": None,
        "note": None,
        "personal_data": personal_data,
        "abusive": found.abusive,
        "priority": _attention(personal_data, found.abusive),
        "submitted_at": now,
        "decided_by": None,
        "decided_at": None,
        "reserved_by": None,
        "reserved_until": None,
        "posted_at": None,
        "group_chat_id": None,
        "group_message_id": None,
        "handled_by": None,
        "handled_at": None,
    }


async def load_item(session: AsyncSession, item_id: int) -> ItemView | None:
    """Return what a moderator may see of one text, or None when it is gone."""
    row = (
        await session.exec(
            select(ModerationItem, Answer, Question, Consultation, Response.language)  # type: ignore[call-overload]
            .join(Answer, col(Answer.id) == col(ModerationItem.answer_id))
            .join(Response, col(Response.id) == col(Answer.response_id))
            .join(Question, col(Question.id) == col(Answer.question_id))
            .join(Consultation, col(Consultation.id) == col(Question.consultation_id))
            .where(ModerationItem.id == item_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        return None
    item, answer, question, consultation, written_in = row
    text = answer.text or ""
    found = screen(text)
    return ItemView(
        id=item.id or 0,
        version=item.version,
        status=Status(item.status),
        reason=Reason(item.reason) if item.reason else None,
        note=item.note,
        consultation_title=consultation.title,
        question_text=question.text,
        languages=consultation.languages,
        parts=split(text),
        personal_data=found.personal_data,
        abusive=found.abusive,
        decided_by=item.decided_by,
        group_chat_id=item.group_chat_id,
        group_message_id=item.group_message_id,
        handled_by=item.handled_by,
        language=written_in,
    )


async def queue_size(session: AsyncSession) -> int:
    """How many texts wait for a decision."""
    count = await session.exec(
        select(func.count())
        .select_from(ModerationItem)
        .where(ModerationItem.status == Status.PENDING.value)
    )
    return int(count.one())


def _free_for(moderator: int, now: datetime) -> ColumnElement[bool]:
    return or_(
        col(ModerationItem.reserved_by).is_(None),
        col(ModerationItem.reserved_by) == moderator,
        col(ModerationItem.reserved_until) <= now,
    )


async def next_for(
    session: AsyncSession, moderator: int, now: datetime, skip: Sequence[int] = ()
) -> ItemView | None:
    """The next text for a moderator's private review, kept for them for a while; or None.

    Texts with personal data or abusive language come first, then the oldest. Texts another
    moderator is reviewing are skipped while that lasts, and so are those in ``skip``.
    """
    for _attempt in range(5):
        item_id = (
            await session.exec(
                select(ModerationItem.id)
                .where(
                    ModerationItem.status == Status.PENDING.value,
                    _free_for(moderator, now),
                    col(ModerationItem.id).not_in(list(skip)),
                )
                .order_by(
                    col(ModerationItem.priority).desc(),
                    col(ModerationItem.submitted_at),
                    col(ModerationItem.id),
                )
                .limit(1)
            )
        ).first()
        if item_id is None:
            return None
        # Someone else may reserve it between the read and this update: then try the next.
        reserved = await session.exec(  # type: ignore[call-overload]
            update(ModerationItem)
            .where(
                col(ModerationItem.id) == item_id,
                col(ModerationItem.status) == Status.PENDING.value,
                _free_for(moderator, now),
            )
            .values(reserved_by=moderator, reserved_until=now + RESERVATION)
        )
        if reserved.rowcount:
            return await load_item(session, item_id)
    return None


async def release(session: AsyncSession, item_id: int, moderator: int) -> None:
    """Give a text the moderator passed over back to the others at once."""
    await session.exec(  # type: ignore[call-overload]
        update(ModerationItem)
        .where(col(ModerationItem.id) == item_id, col(ModerationItem.reserved_by) == moderator)
        .values(reserved_by=None, reserved_until=None)
    )


async def _conflict(session: AsyncSession, item_id: int, *, undo: bool = False) -> ModerationError:
    """Why a conditional update changed nothing: the item is gone, decided, or changed."""
    item = await load_item(session, item_id)
    if item is None:
        return ItemGone(item_id)
    if undo:
        return NotUndoable(item)
    if item.pending:
        return TextChanged(item)
    return AlreadyDecided(item)


async def decide(
    session: AsyncSession,
    item_id: int,
    seen_version: int,
    moderator: int,
    status: Status,
    now: datetime,
    reason: Reason | None = None,
    note: str | None = None,
) -> ItemView:
    """Approve, reject (with a reason) or flag a text for staff, and write it in the audit log.

    Args:
        item_id: the text's moderation item.
        seen_version: the version the moderator saw (from the button).
        moderator: the moderator's Telegram id.
        status: approved, rejected or flagged.
        reason: why it was rejected (required for rejected, ignored otherwise).
        note: the reason in the moderator's words, for the reason "other".

    Returns:
        The text as it is now, decided.

    Raises:
        ItemGone: the text no longer exists.
        AlreadyDecided: a decision came first (``error.item`` shows it).
        TextChanged: the writer changed the text since (``error.item`` is the new one).
    """
    stored_reason = _stored_reason(status, reason)
    pending_as_seen = [
        col(ModerationItem.status) == Status.PENDING.value,
        col(ModerationItem.version) == seen_version,
    ]
    values = _decision(status, stored_reason, note, moderator, now)
    if not await _update_item(session, item_id, pending_as_seen, **values):
        raise await _conflict(session, item_id)
    action, target = f"moderation.{status.value}", f"moderation_item:{item_id}"
    details = {"reason": stored_reason} if stored_reason else None
    await audit(session, moderator, action, target, details, now=now)
    return await _reloaded(session, item_id)


def _decision(
    status: Status, stored_reason: str | None, note: str | None, moderator: int, now: datetime
) -> dict[str, Any]:
    """The columns a decision sets; the moderator's reservation of the text ends with it."""
    return {
        "status": status.value,
        "reason": stored_reason,
        "note": note[:NOTE_LIMIT] if note and stored_reason == Reason.OTHER else None,
        "decided_by": moderator,
        "decided_at": now,
        "reserved_by": None,
        "reserved_until": None,
    }


def _stored_reason(status: Status, reason: Reason | None) -> str | None:
    """The reason stored with a decision: a rejection needs one, the others have none."""
    if status is Status.PENDING:
        raise ValueError("a decision cannot be 'pending'; use undo")
    if status is Status.REJECTED and reason is None:
        raise ValueError("a rejection needs a reason")
    return reason.value if status is Status.REJECTED and reason else None


async def undo(
    session: AsyncSession, item_id: int, seen_version: int, moderator: int, now: datetime
) -> ItemView:
    """Take back a moderator's own decision: the text is pending again.

    Raises:
        ItemGone: the text no longer exists.
        NotUndoable: the decision is someone else's, was undone already, or the text changed.
    """
    before = await load_item(session, item_id)
    undone = await _update_item(
        session,
        item_id,
        [
            col(ModerationItem.status) != Status.PENDING.value,
            col(ModerationItem.version) == seen_version,
            col(ModerationItem.decided_by) == moderator,
        ],
        status=Status.PENDING.value,
        reason=None,
        note=None,
        decided_by=None,
        decided_at=None,
        handled_by=None,
        handled_at=None,
    )
    if not undone:
        raise await _conflict(session, item_id, undo=True)
    assert before is not None
    was = {"was": before.status.value, "reason": before.reason.value if before.reason else None}
    await audit(session, moderator, "moderation.undo", f"moderation_item:{item_id}", was, now=now)
    return await _reloaded(session, item_id)


async def _update_item(
    session: AsyncSession, item_id: int, conditions: list[ColumnElement[bool]], **values: Any
) -> bool:
    """Change the item only if ``conditions`` hold, and count the change; True if it did.

    The row count tells who won when two moderators press at once: the other changes nothing.
    """
    result = await session.exec(  # type: ignore[call-overload]
        update(ModerationItem)
        .where(col(ModerationItem.id) == item_id, *conditions)
        .values(**values, version=col(ModerationItem.version) + 1)
    )
    return bool(result.rowcount == 1)


async def _reloaded(session: AsyncSession, item_id: int) -> ItemView:
    """The item as it is now, after a change this transaction made."""
    item = await load_item(session, item_id)
    assert item is not None  # the update just found it, in this transaction
    return item


# ---------------------------------------------------------------------------- the group


async def moderation_group(session: AsyncSession) -> ModerationGroup | None:
    """The registered moderation group, if any."""
    return (await session.exec(select(ModerationGroup))).first()


async def register_group(session: AsyncSession, chat_id: int, by: int, now: datetime) -> bool:
    """Make ``chat_id`` the moderation group (replacing any other); False if it already was."""
    current = await moderation_group(session)
    if current is not None and current.chat_id == chat_id:
        return False
    await session.exec(delete(ModerationGroup))  # type: ignore[call-overload]
    session.add(ModerationGroup(chat_id=chat_id, registered_by=by, registered_at=now))
    await audit(session, by, "moderation.group.register", f"chat:{chat_id}", now=now)
    return True


async def unregister_group(
    session: AsyncSession, chat_id: int, by: int | None, now: datetime, *, lost: bool = False
) -> bool:
    """Stop posting to ``chat_id``; False when it was not the moderation group.

    ``lost``: the bot was removed from the group (Telegram refused a message to it).
    """
    result = await session.exec(  # type: ignore[call-overload]
        delete(ModerationGroup).where(col(ModerationGroup.chat_id) == chat_id)
    )
    if not result.rowcount:
        return False
    action = "moderation.group.lost" if lost else "moderation.group.unregister"
    await audit(session, by, action, f"chat:{chat_id}", now=now)
    return True


async def move_group(
    session: AsyncSession, old_chat_id: int, new_chat_id: int, now: datetime
) -> None:
    """Follow the group to its new id (Telegram gives a group a new id as a supergroup)."""
    await session.exec(  # type: ignore[call-overload]
        update(ModerationGroup)
        .where(col(ModerationGroup.chat_id) == old_chat_id)
        .values(chat_id=new_chat_id)
    )
    await audit(
        session,
        None,
        "moderation.group.moved",
        f"chat:{new_chat_id}",
        {"from": old_chat_id},
        now=now,
    )


async def claim_for_group(
    session: AsyncSession, group: ModerationGroup, now: datetime
) -> list[ItemView]:
    """Claim new pending texts to post to the group, oldest first, within the group's rate.

    Texts that arrived before the group was registered are not posted (they wait in /review).
    A claim is taken back with :func:`release_posts` when sending fails.
    """
    budget = GROUP_POSTS_PER_MINUTE - await _posted_last_minute(session, group, now)
    if budget <= 0:
        return []
    candidates = (
        await session.exec(
            select(ModerationItem.id)
            .where(
                ModerationItem.status == Status.PENDING.value,
                col(ModerationItem.posted_at).is_(None),
                col(ModerationItem.submitted_at) >= group.registered_at,
            )
            .order_by(col(ModerationItem.submitted_at), col(ModerationItem.id))
            .limit(budget)
        )
    ).all()
    claimed = []
    for item_id in candidates:
        assert item_id is not None
        result = await session.exec(  # type: ignore[call-overload]
            update(ModerationItem)
            .where(col(ModerationItem.id) == item_id, col(ModerationItem.posted_at).is_(None))
            .values(posted_at=now, group_chat_id=group.chat_id)
        )
        if result.rowcount:
            item = await load_item(session, item_id)
            if item is not None:
                claimed.append(item)
    return claimed


async def _posted_last_minute(session: AsyncSession, group: ModerationGroup, now: datetime) -> int:
    """How many texts were posted to the group in the last minute (its rate limit counts them)."""
    recent = await session.exec(
        select(func.count())
        .select_from(ModerationItem)
        .where(
            ModerationItem.group_chat_id == group.chat_id,
            col(ModerationItem.posted_at) > now - timedelta(minutes=1),
        )
    )
    return int(recent.one())


async def record_post(
    session: AsyncSession, item_id: int, version: int, chat_id: int, message_id: int
) -> None:
    """Remember the group message about a text (unless the text changed meanwhile)."""
    await session.exec(  # type: ignore[call-overload]
        update(ModerationItem)
        .where(
            col(ModerationItem.id) == item_id,
            col(ModerationItem.version) == version,
            col(ModerationItem.group_chat_id) == chat_id,
        )
        .values(group_message_id=message_id)
    )


async def release_posts(session: AsyncSession, item_ids: list[int]) -> None:
    """Take back claims whose message was not sent, so a later round posts them."""
    if not item_ids:
        return
    await session.exec(  # type: ignore[call-overload]
        update(ModerationItem)
        .where(
            col(ModerationItem.id).in_(item_ids),
            col(ModerationItem.group_message_id).is_(None),
        )
        .values(posted_at=None, group_chat_id=None)
    )


# ---------------------------------------------------------------------------- results, exports


async def text_counts(
    session: AsyncSession, question_ids: list[int], *, within: Any = None
) -> dict[int, dict[Status, int]]:
    """Free texts per question and moderation status (a text without an item is pending).

    ``within``: a subquery of response ids to keep to (the results' filters); None: all.
    """
    if not question_ids:
        return {}
    status = func.coalesce(col(ModerationItem.status), Status.PENDING.value)
    rows = await session.exec(
        select(Answer.question_id, status, func.count())
        .select_from(Answer)
        .outerjoin(ModerationItem, col(ModerationItem.answer_id) == col(Answer.id))
        .where(
            col(Answer.question_id).in_(question_ids),
            col(Answer.text).is_not(None),
            col(Answer.skipped).is_(False),
            *([col(Answer.response_id).in_(within)] if within is not None else []),
        )
        .group_by(col(Answer.question_id), status)
    )
    counts: dict[int, dict[Status, int]] = {}
    for question_id, name, n in rows.all():
        counts.setdefault(question_id, {})[Status(name)] = int(n)
    return counts


async def approved_texts(
    session: AsyncSession, question_ids: list[int], per_question: int, *, within: Any = None
) -> dict[int, list[tuple[Part, ...]]]:
    """The first approved free texts of each question, oldest first, split for masking.

    Only texts a moderator approved; each is split around personal data (:func:`split`), so the
    reader sees placeholders, never the data. At most ``per_question`` per question; ``within``
    as in :func:`text_counts`.
    """
    texts: dict[int, list[tuple[Part, ...]]] = {}
    for question_id in question_ids:
        rows = await session.exec(
            select(Answer.text)
            .join(ModerationItem, col(ModerationItem.answer_id) == col(Answer.id))
            .where(
                Answer.question_id == question_id,
                ModerationItem.status == Status.APPROVED.value,
                col(Answer.text).is_not(None),
                *([col(Answer.response_id).in_(within)] if within is not None else []),
            )
            .order_by(col(Answer.id))
            .limit(per_question)
        )
        found = [split(text) for text in rows.all() if text]
        if found:
            texts[question_id] = found
    return texts


# ---------------------------------------------------------------------------- flags for staff


class FlagAction(StrEnum):
    """What staff do with a text a moderator flagged for them."""

    HANDLED = "handled"  # dealt with; it stays out of the results
    APPROVE = "approve"  # nothing wrong after all: it counts as approved


def _open_flag() -> list[ColumnElement[bool]]:
    return [
        col(ModerationItem.status) == Status.FLAGGED.value,
        col(ModerationItem.handled_at).is_(None),
    ]


async def count_open_flags(session: AsyncSession) -> int:
    """How many flagged texts no staff member has dealt with yet."""
    count = await session.exec(
        select(func.count()).select_from(ModerationItem).where(*_open_flag())
    )
    return int(count.one())


async def open_flags(session: AsyncSession, limit: int, offset: int = 0) -> list[ItemView]:
    """Flagged texts no staff member has dealt with, oldest decision first."""
    ids = await session.exec(
        select(ModerationItem.id)
        .where(*_open_flag())
        .order_by(col(ModerationItem.decided_at), col(ModerationItem.id))
        .offset(offset)
        .limit(limit)
    )
    items = [await load_item(session, item_id) for item_id in ids.all() if item_id is not None]
    return [item for item in items if item is not None]


async def handle_flag(
    session: AsyncSession,
    item_id: int,
    seen_version: int,
    staff: int,
    action: FlagAction,
    now: datetime,
) -> ItemView:
    """A staff member deals with a flagged text, or approves it after all; audited.

    Raises:
        ItemGone: the text no longer exists.
        AlreadyDecided: another staff member came first, or a moderator took the flag back
            (``error.item`` shows the text as it is now).
        TextChanged: the writer changed the text since; it waits for moderators again.
    """
    values: dict[str, Any] = {"handled_by": staff, "handled_at": now}
    if action is FlagAction.APPROVE:
        values |= {"status": Status.APPROVED.value, "decided_by": staff, "decided_at": now}
    done = await _update_item(
        session,
        item_id,
        [*_open_flag(), col(ModerationItem.version) == seen_version],
        **values,
    )
    if not done:
        raise await _conflict(session, item_id)
    target = f"moderation_item:{item_id}"
    await audit(session, staff, f"moderation.flag.{action.value}", target, now=now)
    return await _reloaded(session, item_id)


#: What staff may read of the free texts: those a moderator approved, or flagged for them.
STAFF_STATUSES = (Status.APPROVED, Status.FLAGGED)
#: Texts shown per page.
TEXTS_PAGE = 50


def _staff_texts_where(
    question_ids: list[int], status: Status, search: str, within: Any
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [
        col(Answer.question_id).in_(question_ids),
        col(Answer.text).is_not(None),
        col(ModerationItem.status) == status.value,
    ]
    if search.strip():
        where.append(
            func.lower(col(Answer.text)).contains(search.strip().lower(), autoescape=True)
        )
    if within is not None:
        where.append(col(Answer.response_id).in_(within))
    return where


@dataclass(frozen=True)
class TextPage:
    """One page of free texts for staff; ``more`` when another page follows."""

    texts: list[tuple[int, tuple[Part, ...]]]
    """The question's id and the text split around personal data (render it masked), in the
    order they first arrived."""
    more: bool


async def texts_for_staff(
    session: AsyncSession,
    question_ids: list[int],
    status: Status = Status.APPROVED,
    search: str = "",
    *,
    within: Any = None,
    page: int = 0,
) -> TextPage:
    """Free texts staff may read (approved or flagged), with a word to search for.

    Args:
        session: any session.
        question_ids: the free-text questions to read.
        status: approved (the default) or flagged; any other is refused.
        search: only texts containing it (any case); empty: all.
        within: a subquery of response ids to keep to (the results' filters); None: all.
        page: which page of :data:`TEXTS_PAGE` texts.
    """
    if status not in STAFF_STATUSES:
        raise ValueError("staff read approved or flagged texts only")
    if not question_ids:
        return TextPage([], more=False)
    where = _staff_texts_where(question_ids, status, search, within)
    # In the order of the items (as texts first arrived), read along the status index and
    # stopped after a page, not sorted or counted: a million answers cost a page's worth.
    rows = await session.exec(
        select(Answer.question_id, Answer.text)
        .join(ModerationItem, col(ModerationItem.answer_id) == col(Answer.id))
        .where(*where)
        .order_by(col(ModerationItem.id))
        .offset(max(page, 0) * TEXTS_PAGE)
        .limit(TEXTS_PAGE + 1)
    )
    found = list(rows.all())
    shown = [(q, split(text or "")) for q, text in found[:TEXTS_PAGE]]
    return TextPage(shown, more=len(found) > TEXTS_PAGE)
