"""The person's rights: see everything stored about them, erase it, and retention rules.

What belongs to a person is found by following foreign keys from their participant row
(participant → response → answer → …), so a table added later is covered as soon as it links to
the person. Erasure deletes the participant row and lets ``ON DELETE CASCADE`` remove the rest;
columns that hold a Telegram user id without a foreign key (audit log actors, role grants, who
decided something) are cleared or removed explicitly.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Table, and_, delete, func, or_, update
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
from models.roles import audit

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

    ``answers`` lists each answer with its consultation and question text; ``records`` has
    every stored row that belongs to the person, table by table, so nothing is left out.
    """
    rows = await _owned_rows(session, participant.id or 0)
    records = {
        table: [
            {k: _plain(v) for k, v in row.items() if k not in _NOT_SHOWN.get(table, set())}
            for row in table_rows
        ]
        for table, table_rows in rows.items()
    }
    return {"answers": await _readable_answers(session, participant, language), "records": records}


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


def _telegram_id_columns() -> list[tuple[Table, str]]:
    """Columns holding a Telegram user or chat id without a foreign key to the participant."""
    columns = []
    for table in SQLModel.metadata.sorted_tables:
        if table.name == "participant":
            continue
        for column in table.columns:
            if isinstance(column.type, BigInteger) and not column.foreign_keys:
                columns.append((table, column.name))
    return columns


async def erase(session: AsyncSession, participant: Participant, now: datetime) -> None:
    """Erase the person: every row linked to them, and their id wherever it is written.

    The audit log keeps only that an erasure happened, not whose.
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
