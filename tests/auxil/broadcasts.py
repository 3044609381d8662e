"""Broadcast helpers for tests and benchmarks: audiences in the sandbox, confirmed broadcasts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import outbox
from models.outbox import Audience, AudienceKind, Broadcast, BroadcastState, Delivery
from sandbox import Sandbox
from tests.auxil.people import add_people

Sessions = async_sessionmaker[AsyncSession]


async def audience(
    sandbox: Sandbox,
    sessions: Sessions,
    user_ids: Sequence[int],
    *,
    language: str = "nb",
    source: str | None = None,
) -> list[int]:
    """People who consented, in the database and in the sandbox; returns participant ids."""
    for uid in user_ids:
        sandbox.add_user(uid, first_name=f"P{uid}", language_code=language)
    async with sessions() as session:
        ids = await add_people(session, user_ids, language=language, source=source)
        await session.commit()
    return ids


async def confirmed_broadcast(
    sessions: Sessions,
    now: datetime,
    *,
    text: dict[str, str] | None = None,
    consultation_id: int | None = None,
    audience: Audience | None = None,
    staff_chat: int | None = None,
    urgent: bool = False,
    scheduled_at: datetime | None = None,
) -> int:
    """A broadcast confirmed the way /broadcast confirms one; returns its id."""
    async with sessions() as session:
        draft = Broadcast(
            created_by=staff_chat,
            chat_id=staff_chat,
            staff_language="en",
            consultation_id=consultation_id,
            text=text if consultation_id is None else None,
            language=next(iter(text)) if text and consultation_id is None else None,
            audience=(audience or Audience(AudienceKind.CONSENTED)).to_json(),
            urgent=urgent,
            scheduled_at=scheduled_at,
        )
        session.add(draft)
        await session.flush()
        await outbox.confirm(session, draft, now, None)
        await session.commit()
        assert draft.id is not None
        return draft.id


async def broadcast_state(sessions: Sessions, broadcast_id: int) -> Broadcast:
    """The broadcast as stored now."""
    async with sessions() as session:
        found = await session.get(Broadcast, broadcast_id)
        assert found is not None
        return found


async def wait_for_state(
    sessions: Sessions,
    broadcast_id: int,
    states: Iterable[str] = (BroadcastState.DONE,),
    *,
    timeout: float = 30.0,  # noqa: ASYNC109
    reported: bool = False,
) -> Broadcast:
    """Wait until the broadcast is in one of ``states`` (and reported, if asked)."""
    wanted = set(states)
    deadline = time.monotonic() + timeout
    while True:
        found = await broadcast_state(sessions, broadcast_id)
        if found.state in wanted and (not reported or found.reported_at is not None):
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"broadcast {broadcast_id} is {found.state}, not {wanted}")
        await asyncio.sleep(0.1)


async def wait_for_sends(sandbox: Sandbox, chats: Iterable[int], *, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    """Wait until every chat has had at least one message."""
    wanted = list(chats)
    deadline = time.monotonic() + timeout
    while True:
        missing = [c for c in wanted if sandbox.stats.per_chat[c] < 1]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(missing)} of {len(wanted)} chats got nothing")
        await asyncio.sleep(0.05)


async def wait_for_count(
    sandbox: Sandbox,
    chats: Sequence[int],
    count: int,
    *,
    timeout: float = 60.0,  # noqa: ASYNC109
) -> float:
    """Wait until ``chats`` got ``count`` messages in all; return ``time.monotonic()`` then."""
    deadline = time.monotonic() + timeout
    while True:
        if sum(sandbox.stats.per_chat[c] for c in chats) >= count:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(chats)} chats got fewer than {count} messages")
        await asyncio.sleep(0.02)


async def delivery_states(sessions: Sessions, broadcast_id: int) -> dict[int, str]:
    """Each recipient's delivery state, by participant id."""
    async with sessions() as session:
        rows = await session.exec(
            select(Delivery.participant_id, Delivery.state).where(
                col(Delivery.broadcast_id) == broadcast_id
            )
        )
        return dict(rows.all())
