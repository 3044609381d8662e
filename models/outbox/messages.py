"""Messages that are not part of a broadcast: a reminder, an invitation, a follow-up.

Each is a :class:`~models.outbox.tables.Delivery` row written in the transaction that decides
to send it, one at a time (:func:`enqueue`) or to everyone who meets a condition
(:func:`enqueue_for_everyone`), and cancelled in the transaction that makes it pointless
(:func:`cancel_pending`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, insert, update
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import table_of
from models.outbox.tables import D, Delivery, DeliveryState
from models.participant import Participant

Payload = dict[str, Any]

P = table_of(Participant)


async def enqueue(
    session: AsyncSession,
    participant_id: int,
    payload: dict[str, Any],
    *,
    kind: str,
    due_at: datetime,
    urgent: bool = False,
    ref: str | None = None,
    expires_at: datetime | None = None,
) -> Delivery:
    """Queue one message that is not part of a broadcast (a reminder, a follow-up).

    Call it in the transaction that decides to send. ``payload`` holds Bot API
    ``sendMessage`` fields except ``chat_id`` (``text``, ``parse_mode``, ``reply_markup``), or
    ``sendDocument`` fields with a ``document``: a file id, or ``{"filename", "content",
    "mime_type"}`` for a small text file made for the message (an ``.ics``). ``ref`` names
    what it is about, for :func:`cancel_pending`; after ``expires_at`` it is dropped unsent.
    """
    delivery = Delivery(
        participant_id=participant_id,
        kind=kind,
        payload=payload,
        due_at=due_at,
        urgent=urgent,
        ref=ref,
        expires_at=expires_at,
    )
    session.add(delivery)
    await session.flush()
    return delivery


async def enqueue_for_everyone(
    session: AsyncSession,
    condition: ColumnElement[bool],
    messages: Callable[[str], Sequence[tuple[str, Payload]]],
    language_of: Callable[[str | None], str],
    *,
    ref: str,
    now: datetime,
    batch: int,
    expires_at: datetime | None = None,
) -> int:
    """Queue messages, due now, for every participant meeting ``condition``; return how many.

    People are read in batches of ``batch`` participant ids (nobody is loaded as an object),
    and each batch is one insert. ``messages(language)`` gives the ``(kind, payload)`` pairs a
    person gets, rendered once per language; ``language_of`` picks a person's language.
    """
    # Table-level statements go through the connection: the ORM session wants mapped classes.
    connection = await session.connection()
    messages_of = _rendered_once(messages, language_of)
    fields = {
        "ref": ref,
        "due_at": now,
        "expires_at": expires_at,
        "urgent": False,
        "attempts": 0,
        "state": DeliveryState.PENDING.value,
    }
    written, after = 0, 0
    while people := await _people_after(connection, condition, after, batch):
        rows = [
            {"participant_id": participant_id, "kind": kind, "payload": payload, **fields}
            for participant_id, language in people
            for kind, payload in messages_of(language)
        ]
        await connection.execute(insert(D), rows)
        written += len(people)
        after = int(people[-1][0])
    return written


async def _people_after(
    connection: AsyncConnection, condition: ColumnElement[bool], after: int, batch: int
) -> Sequence[Row[Any]]:
    """The next ``batch`` participants (id, language) meeting ``condition``, by id."""
    return (
        await connection.execute(
            core_select(P.c.id, P.c.language)
            .where(condition, P.c.id > after)
            .order_by(P.c.id)
            .limit(batch)
        )
    ).all()


def _rendered_once(
    messages: Callable[[str], Sequence[tuple[str, Payload]]],
    language_of: Callable[[str | None], str],
) -> Callable[[str | None], Sequence[tuple[str, Payload]]]:
    """``messages`` in a person's language, each language rendered only once."""
    rendered: dict[str, Sequence[tuple[str, Payload]]] = {}

    def messages_of(language: str | None) -> Sequence[tuple[str, Payload]]:
        code = language_of(language)
        if code not in rendered:
            rendered[code] = messages(code)
        return rendered[code]

    return messages_of


async def cancel_pending(
    session: AsyncSession,
    *,
    participant_id: int | None = None,
    ref: str | None = None,
    kinds: Sequence[str] | None = None,
    detail: str = "cancelled",
) -> int:
    """Cancel unsent messages of one person, about one thing, or both; return how many.

    Call it in the transaction that makes them pointless. A row a worker is sending at this
    very moment still goes out (at most the sends in flight), as with a cancelled broadcast.
    """
    if participant_id is None and ref is None:
        raise ValueError("say whose messages or what they are about")
    conditions = [D.c.state == DeliveryState.PENDING]
    if participant_id is not None:
        conditions.append(D.c.participant_id == participant_id)
    if ref is not None:
        conditions.append(D.c.ref == ref)
    if kinds is not None:
        conditions.append(D.c.kind.in_(list(kinds)))
    connection = await session.connection()
    result = await connection.execute(
        update(D)
        .where(*conditions)
        .values(state=DeliveryState.CANCELLED, detail=detail, claimed_by=None, claimed_until=None)
    )
    return int(result.rowcount or 0)


async def enqueue_for_chats(
    session: AsyncSession,
    telegram_ids: Sequence[int],
    message: Callable[[str], Payload],
    language_of: Callable[[str | None], str],
    *,
    kind: str,
    ref: str,
    now: datetime,
    urgent: bool = False,
) -> int:
    """Queue one message, due now, to each of these people's private chats; return how many.

    For people who need not be participants (staff): the row names the chat, not a participant.
    Someone who is also a participant reads it in their chosen language; ``message(language)``
    is rendered once per language.
    """
    if not telegram_ids:
        return 0
    connection = await session.connection()
    chosen = await _chosen_languages(connection, telegram_ids)
    rendered: dict[str, Payload] = {}
    rows = []
    for telegram_id in telegram_ids:
        code = language_of(chosen.get(telegram_id))
        if code not in rendered:
            rendered[code] = message(code)
        rows.append(
            {
                "participant_id": None,
                "chat_id": telegram_id,  # a private chat's id is the person's user id
                "kind": kind,
                "payload": rendered[code],
                "ref": ref,
                "due_at": now,
                "urgent": urgent,
                "attempts": 0,
                "state": DeliveryState.PENDING.value,
            }
        )
    await connection.execute(insert(D), rows)
    return len(rows)


async def _chosen_languages(
    connection: AsyncConnection, telegram_ids: Sequence[int]
) -> dict[int, str | None]:
    """The language each of these people chose, by Telegram id, for those who are participants."""
    found = await connection.execute(
        core_select(P.c.telegram_user_id, P.c.language).where(
            P.c.telegram_user_id.in_(list(telegram_ids))
        )
    )
    return {int(uid): language for uid, language in found.all()}
