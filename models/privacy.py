"""The person's rights: see everything stored about them, erase it, and retention rules.

What belongs to a person is found by following foreign keys from their participant row
(participant → response → answer → …), so a table added later is covered as soon as it links to
the person. Erasure deletes the participant row and lets ``ON DELETE CASCADE`` remove the rest;
the columns that hold a Telegram user id without a foreign key are listed one by one
(:data:`TELEGRAM_ID_COLUMNS`, each with the reason), and only those are cleared.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, delete, func, or_, update
from sqlalchemy import select as select_rows
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

import models.tables  # noqa: F401  (every table on the metadata, so the walk sees them all)
from models.answers import Answer, AnswerChoice, Response
from models.base import localized
from models.consultation import Consultation, Option, Question, Status
from models.consultation_file import QuestionType
from models.followups import stop_messages
from models.participant import Consent, Participant, forget_consent
from models.profile import readable_background
from models.roles import audit
from models.webchat import WebMessage

logger = logging.getLogger(__name__)

# Left out of /mydata: bookkeeping that says nothing about the person, and who moderated their
# text (a moderator's identity is not the writer's to see).
_NOT_SHOWN = {
    "participant": {"active_response_id"},
    "moderation_item": {
        "decided_by",
        "reserved_by",
        "reserved_until",
        "posted_at",
        "group_chat_id",
        "group_message_id",
    },
}


def _linked_tables() -> list[tuple[Table, str, Table]]:
    """Every (table, foreign key column, referenced table) among the metadata's tables."""
    links = []
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            for foreign_key in column.foreign_keys:
                links.append((table, column.name, foreign_key.column.table))
    return links


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


async def _owned_rows(
    session: AsyncSession, participant_id: int
) -> dict[str, list[dict[str, Any]]]:
    """Every row that belongs to the participant, by table, found by following foreign keys."""
    participant_table = SQLModel.metadata.tables["participant"]
    found: dict[str, list[dict[str, Any]]] = {}
    owned_ids: dict[str, set[Any]] = {"participant": {participant_id}}
    # Table-level reads go through the connection: the ORM session wants mapped classes.
    connection = await session.connection()
    rows = (
        await connection.execute(
            select_rows(participant_table).where(participant_table.c.id == participant_id)
        )
    ).mappings()
    found["participant"] = [dict(r) for r in rows]
    links = _linked_tables()
    frontier = ["participant"]
    while frontier:
        parent = frontier.pop(0)
        for table, column, referenced in links:
            if referenced.name != parent or table.name == parent:
                continue
            result = await connection.execute(
                select_rows(table).where(table.c[column].in_(list(owned_ids[parent])))
            )
            if _add_rows(table, [dict(r) for r in result.mappings()], found, owned_ids):
                frontier.append(table.name)
    return found


def _add_rows(
    table: Table,
    new_rows: list[dict[str, Any]],
    found: dict[str, list[dict[str, Any]]],
    owned_ids: dict[str, set[Any]],
) -> bool:
    """Add the rows not found before; True when they own ids whose links are still to follow."""
    if not new_rows:
        return False
    known = found.setdefault(table.name, [])
    primary = [c.name for c in table.primary_key.columns]
    seen = {tuple(r[p] for p in primary) for r in known}
    for row in new_rows:
        key = tuple(row[p] for p in primary)
        if key not in seen:
            known.append(row)
            seen.add(key)
    if len(primary) != 1:
        return False
    before = owned_ids.setdefault(table.name, set())
    added = {row[primary[0]] for row in new_rows} - before
    before |= added
    return bool(added)


async def personal_data(
    session: AsyncSession, participant: Participant, language: str
) -> dict[str, Any]:
    """Everything stored about the person, readable, in their language where it has texts.

    ``answers`` lists each answer with its consultation and question text; ``background``
    the background questions answered (a band, or None for "prefer not to say"); ``records``
    has every stored row that belongs to the person, table by table, so nothing is left out.
    """
    rows = await _owned_rows(session, participant.id or 0)
    # A web resident's chat has no foreign key to them (it begins before consent).
    chat = await web_chat_rows(session, participant.chat_id)
    if chat:
        rows["web_message"] = chat
    records = {
        table: [
            {k: _plain(v) for k, v in row.items() if k not in _NOT_SHOWN.get(table, set())}
            for row in table_rows
        ]
        for table, table_rows in rows.items()
    }
    return {
        "answers": await _readable_answers(session, participant, language),
        "background": await readable_background(session, participant.id or 0, language),
        "records": records,
    }


async def _readable_answers(
    session: AsyncSession, participant: Participant, language: str
) -> list[dict[str, Any]]:
    """Each answer of the person with its consultation and question, in ``language``."""
    answers = (
        await session.exec(
            select(Consultation, Question, Answer, Response)
            .join(Response, col(Response.id) == col(Answer.response_id))
            .join(Question, col(Question.id) == col(Answer.question_id))
            .join(Consultation, col(Consultation.id) == col(Response.consultation_id))
            .where(Response.participant_id == participant.id)
            .order_by(col(Response.id), col(Question.position))
        )
    ).all()
    chosen = await _chosen_options(session, [a.id or 0 for _, _, a, _ in answers], language)
    readable = []
    for consultation, question, answer, response in answers:
        first = consultation.languages[0]
        value: Any
        if answer.skipped:
            value = None
        elif question.type == QuestionType.FREE_TEXT:
            value = answer.text
        elif question.type == QuestionType.SCALE:
            value = answer.number
        else:
            value = chosen.get(answer.id or 0, [])
        readable.append(
            {
                "consultation": localized(consultation.title, language, first),
                "question": localized(question.text, language, first),
                "answer": value,
                "skipped": answer.skipped,
                "answered_at": answer.answered_at.isoformat(),
                "source": response.source,
            }
        )
    return readable


async def _chosen_options(
    session: AsyncSession, answer_ids: list[int], language: str
) -> dict[int, list[str]]:
    """The texts of the options picked in these answers, in ``language``."""
    chosen: dict[int, list[str]] = {}
    if not answer_ids:
        return chosen
    choices = await session.exec(
        select(AnswerChoice.answer_id, Option.text, Option.key)
        .join(Option, col(Option.id) == col(AnswerChoice.option_id))
        .where(col(AnswerChoice.answer_id).in_(answer_ids))
    )
    for answer_id, text, key in choices.all():
        chosen.setdefault(answer_id, []).append(localized(dict(text), language, "nb") or key)
    return chosen


# Columns that hold a Telegram user or chat id without a foreign key to the participant, and
# why erasing the person clears them (sets NULL) or deletes their rows. Only these are touched:
# a number elsewhere that happens to equal the person's id is not theirs.
TELEGRAM_ID_COLUMNS: dict[str, str] = {
    "auditlog.actor": "who did something (a refused command, a staff action): cleared, the "
    "audit keeps what happened, not who",
    "rolegrant.granted_by": "the admin who gave someone else a role: cleared",
    "moderation_item.decided_by": "the moderator who decided on a text: cleared",
    "moderation_item.reserved_by": "the moderator reviewing a text right now: cleared",
    "moderation_group.registered_by": "the admin who registered the moderation group: cleared",
    "broadcast.created_by": "the staff member who wrote a broadcast: cleared",
    "broadcast.chat_id": "that staff member's chat, for the broadcast's report: cleared",
    "event.created_by": "the staff member who made an event: cleared",
    "event.chat_id": "that staff member's chat: cleared",
    "outcome.created_by": "the staff member who wrote a follow-up: cleared",
    "outcome.chat_id": "that staff member's chat: cleared",
    "dialog.user_id": "the staff member's open dialog (where they are in a wizard): deleted",
    "moderation_item.handled_by": "the staff member who dealt with a flagged text: cleared",
    "focus_group.created_by": "the staff member who drew a focus group: cleared",
    "need.created_by": "the coordinator who wrote a volunteer centre's need: cleared",
    "need.chat_id": "that coordinator's chat: cleared",
    "dashboard_login.telegram_user_id": "a staff member's one-time dashboard link: deleted",
    "dashboard_session.telegram_user_id": "a staff member's dashboard session: deleted",
    "focus_group.chat_id": "that staff member's chat: cleared",
    "web_message.chat_id": "a web resident's conversation, as the page shows it: deleted",
    "web_request.chat_id": "a web resident's recent forms (against double submits): deleted",
    "delivery.chat_id": "a message to a staff member's chat (a flagged text): cleared, and the "
    "worker drops a message with nobody to send it to",
}

# Columns of the same type that are deliberately left alone, and why.
NOT_A_PERSONS_ID: dict[str, str] = {
    "rolegrant.telegram_user_id": "a role is the municipality's grant to its staff, not the "
    "person's data as a resident; /revoke or `medvirk roles revoke` takes it away",
    "coordinator.telegram_user_id": "like a role: the municipality's grant to a volunteer "
    "centre's staff; `medvirk roles revoke ID coordinator` takes it away",
    "dialog.chat_id": "the same person as dialog.user_id (a private chat), deleted with it",
    "moderation_item.group_chat_id": "a group chat, not a person",
    "moderation_group.chat_id": "a group chat, not a person",
    "processed_update.update_id": "Telegram's number of an update, not a person",
    "pollmessage.chat_id": "the person's chat, but the row goes with their response (a foreign "
    "key)",
}


async def web_chat_rows(session: AsyncSession, chat_id: int) -> list[dict[str, Any]]:
    """The messages of a web resident's chat, as they are shown (files left out)."""
    messages = await session.exec(
        select(WebMessage).where(WebMessage.chat_id == chat_id).order_by(col(WebMessage.id))
    )
    return [
        {
            "id": m.id,
            "sender": m.sender,
            "text": m.text,
            "file_name": m.file_name,
            "created_at": m.created_at,
            "edited_at": m.edited_at,
        }
        for m in messages.all()
    ]


def _telegram_id_columns() -> list[tuple[Table, str]]:
    """The columns of :data:`TELEGRAM_ID_COLUMNS` as (table, column name)."""
    columns = []
    for name in TELEGRAM_ID_COLUMNS:
        table_name, column = name.split(".")
        columns.append((SQLModel.metadata.tables[table_name], column))
    return columns


async def erase(session: AsyncSession, participant: Participant, now: datetime) -> None:
    """Erase the person: every row linked to them, and their id where it is written.

    Rows linked by foreign keys go with the participant row (``ON DELETE CASCADE``); the
    Telegram id is cleared from the columns of :data:`TELEGRAM_ID_COLUMNS`, or their rows are
    deleted where the column cannot be empty. The audit log keeps only that an erasure
    happened, not whose.
    """
    telegram_ids = {participant.telegram_user_id, participant.chat_id}
    for table, name in _telegram_id_columns():
        column = table.c[name]
        if column.nullable:
            await session.exec(update(table).where(column.in_(telegram_ids)).values({name: None}))
        else:
            await session.exec(delete(table).where(column.in_(telegram_ids)))
    await session.exec(
        delete(SQLModel.metadata.tables["participant"]).where(
            SQLModel.metadata.tables["participant"].c.id == participant.id
        )
    )
    session.expunge(participant)
    await audit(session, None, "participant.erased", None, now=now)


async def forget_freed_space(session: AsyncSession) -> None:
    """Let erased rows leave the database file, as far as the database allows; no transaction.

    SQLite overwrites deleted rows with zeros (``PRAGMA secure_delete``, set on every
    connection in ``bot/db.py``), but the write-ahead log keeps copies of the pages from before
    until a checkpoint: this one copies the log into the database and empties it. PostgreSQL
    keeps a deleted row until (auto)vacuum; docs/privacy.md says what an operator does there.
    """
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


async def withdraw_consent(session: AsyncSession, participant: Participant, now: datetime) -> None:
    """Withdraw every consent the person gave; nothing more is sent to them."""
    forget_consent(session)
    await session.exec(
        update(Consent)
        .where(
            col(Consent.participant_id) == participant.id,
            col(Consent.granted).is_(True),
            col(Consent.withdrawn_at).is_(None),
        )
        .values(withdrawn_at=now)
    )
    participant.active_response_id = None
    await session.flush()
    # Unsent messages end now, and so do arena subscriptions and follow-up opt-ins.
    await stop_messages(session, participant, now, withdraw_opt_ins=True)


def closed_since(consultation: Consultation, now: datetime) -> datetime | None:
    """When the consultation stopped taking answers, or None while it still may."""
    ends = [t for t in (consultation.closed_at, consultation.closes_at) if t is not None]
    if consultation.status == Status.CLOSED and consultation.closed_at is None:
        ends.append(consultation.updated_at)
    past = [t for t in ends if t <= now]
    return min(past) if past else None


async def expire_free_texts(session: AsyncSession, now: datetime, days: int) -> int:
    """Delete free-text answers of consultations that closed more than ``days`` ago."""
    limit = now - timedelta(days=days)
    candidates = (
        await session.exec(
            select(Consultation).where(
                or_(
                    col(Consultation.status) == Status.CLOSED, col(Consultation.closes_at) <= limit
                )
            )
        )
    ).all()
    expired = [c.id for c in candidates if (closed := closed_since(c, now)) and closed <= limit]
    if not expired:
        return 0
    free_text = select(Question.id).where(
        col(Question.consultation_id).in_(expired), Question.type == QuestionType.FREE_TEXT.value
    )
    result = await session.exec(
        delete(Answer).where(
            and_(col(Answer.question_id).in_(free_text), col(Answer.text).is_not(None))
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def erase_inactive(session: AsyncSession, now: datetime, months: int) -> int:
    """Erase everyone not heard from for ``months`` months (30-day months)."""
    limit = now - timedelta(days=30 * months)
    last = func.coalesce(col(Participant.last_seen_at), col(Participant.created_at))
    inactive = (await session.exec(select(Participant).where(last < limit))).all()
    for participant in inactive:
        await erase(session, participant, now)
    return len(inactive)
