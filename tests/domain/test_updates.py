"""Processed updates: a redelivered update is recognised, in the handler's own transaction."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.updates import KEEP_PROCESSED_UPDATES, ProcessedUpdate, claim_update
from models.updates import prune_processed_updates as prune

pytestmark = pytest.mark.postgres

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession], update_id: int, digest: str
) -> bool:
    """Claim in a transaction of its own and commit."""
    async with sessionmaker() as session, session.begin():
        return await claim_update(session, update_id, digest, NOW)


async def test_a_committed_claim_makes_the_redelivery_a_duplicate(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert await claim(sessionmaker, 1, "aaa")
    assert not await claim(sessionmaker, 1, "aaa")
    assert await claim(sessionmaker, 2, "aaa")


async def test_a_rolled_back_claim_leaves_the_update_to_run_again(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        assert await claim_update(session, 5, "aaa", NOW)
        await session.rollback()  # the handler failed
    assert await claim(sessionmaker, 5, "aaa")


async def test_the_same_id_with_other_content_is_a_new_update(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert await claim(sessionmaker, 9, "first")
    assert await claim(sessionmaker, 9, "second")  # a reused id (sandbox restart, a week idle)
    assert not await claim(sessionmaker, 9, "second")


async def test_concurrent_deliveries_run_once_and_the_loser_does_not_fail(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    first_claimed = asyncio.Event()

    async def slow_first() -> bool:
        async with sessionmaker() as session, session.begin():
            claimed = await claim_update(session, 42, "same", NOW)
            first_claimed.set()
            await asyncio.sleep(0.3)  # the handler's work, while the duplicate arrives
            return claimed

    async def duplicate() -> bool:
        await first_claimed.wait()
        # Waits for the first transaction's lock, then finds its row: no error, no 500 loop.
        return await claim(sessionmaker, 42, "same")

    assert await asyncio.gather(slow_first(), duplicate()) == [True, False]


async def test_old_claims_are_pruned(session: AsyncSession) -> None:
    old = NOW - KEEP_PROCESSED_UPDATES - timedelta(minutes=1)
    await claim_update(session, 1, "a", old)
    await claim_update(session, 2, "b", NOW - timedelta(hours=1))
    await session.commit()
    assert await prune(session, NOW) == 1
    await session.commit()
    remaining = await session.exec(select(func.count()).select_from(ProcessedUpdate))
    assert remaining.one() == 1
