"""Updates already handled: Telegram may deliver one twice, and it must take effect once.

Telegram re-sends a webhook update until it gets a 2xx answer, and a bot that crashed after
committing but before answering gets the same update again. Every handler's transaction
therefore starts by claiming the update's id here. The claim is a row written in the *same*
transaction as the handler's own changes, so:

- a redelivered update whose first run committed finds the row and does nothing;
- a redelivered update whose first run failed finds no row (it was rolled back) and runs again;
- two deliveries at the same moment (two replicas, or a retry that overtook a slow first
  attempt) cannot both run: the second insert waits for the first transaction and, once that
  commits, does nothing (``ON CONFLICT DO NOTHING``), so a conflict is never an error to retry.

An update id alone is not quite enough: Telegram picks a random id after a week without
updates, and a restarted sandbox counts from 1 again. So the row keeps a short digest of the
update's content; the same id with different content is a new update, not a redelivery.

Rows older than Telegram's retry window (about a day) are pruned.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Column, String, delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime

# Telegram keeps undelivered updates for 24 hours; twice that leaves room for clock skew and
# an outage that began just before the last delivery attempt.
KEEP_PROCESSED_UPDATES = timedelta(hours=48)


class ProcessedUpdate(SQLModel, table=True):
    """An update whose handler committed: its id, a digest of its content, and when."""

    __tablename__ = "processed_update"

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    digest: str = Field(sa_column=Column(String(32), nullable=False))
    processed_at: datetime = Field(sa_type=UTCDateTime, index=True)


async def claim_update(session: AsyncSession, update_id: int, digest: str, now: datetime) -> bool:
    """Claim an update for this transaction; False when it was handled before.

    Call it first in the handler's transaction: on SQLite the insert also takes the write lock
    at once, so the transaction never has to upgrade a stale read snapshot.

    Args:
        session: the handler's session, inside its transaction.
        update_id: Telegram's ``update_id``.
        digest: a digest of the update's content (tells a reused id from a redelivery).
        now: the time to record.

    Returns:
        True when this transaction owns the update and should handle it; False for a
        redelivery of an update whose handler already committed.
    """
    values = {"update_id": update_id, "digest": digest, "processed_at": now}
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    statement = insert(ProcessedUpdate).values(**values).on_conflict_do_nothing()
    result = await session.exec(statement)  # type: ignore[call-overload]
    if result.rowcount == 1:
        return True
    stored = (
        await session.exec(
            select(ProcessedUpdate.digest).where(ProcessedUpdate.update_id == update_id)
        )
    ).one_or_none()
    if stored is None or stored == digest:
        # None: the row vanished between the two statements (pruned); treat as handled
        # rather than risk running an update twice.
        return False
    # The same id with other content: a new update that reuses an old id.
    await session.exec(
        update(ProcessedUpdate)  # type: ignore[call-overload]
        .where(col(ProcessedUpdate.update_id) == update_id)
        .values(digest=digest, processed_at=now)
    )
    return True


async def prune_processed_updates(session: AsyncSession, now: datetime) -> int:
    """Forget updates handled longer ago than Telegram would redeliver them; return how many."""
    result = await session.exec(
        delete(ProcessedUpdate).where(  # type: ignore[call-overload]
            col(ProcessedUpdate.processed_at) < now - KEEP_PROCESSED_UPDATES
        )
    )
    return int(result.rowcount or 0)
