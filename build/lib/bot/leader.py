"""Which replica does the work that must run in one place at a time (the delivery worker).

On PostgreSQL, replicas compete for a session-level advisory lock held on a dedicated
connection: the holder leads; the others try again every few seconds. The lock belongs to the
database session, so when the leader dies (``kill -9``, a lost machine) PostgreSQL drops the
connection and the lock with it, and another replica takes over within its retry interval.
The leader checks every few seconds that its connection still holds the lock and stops
sending at once when it does not.

On SQLite there is one process by design (SQLite serves a pilot on one machine), so it always
leads.
"""

from __future__ import annotations

import asyncio
import logging
import os

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

logger = logging.getLogger(__name__)

#: The advisory lock key of the delivery worker ("medv" in ASCII). Advisory locks are per
#: database, so installations sharing a PostgreSQL server do not collide.
DELIVERY_LOCK = 0x6D656476
CHECK_TIMEOUT = 5.0


class Leadership:
    """Always the leader: the single process of a SQLite installation."""

    #: Shown in logs and to operators (``pg_stat_activity.application_name`` on PostgreSQL).
    name = "single process"

    async def acquire(self) -> bool:
        """Try to become the leader; True when this process leads now."""
        return True

    async def check(self) -> bool:
        """Tell whether this process still leads."""
        return True

    async def release(self) -> None:
        """Stop leading (another replica may take over)."""


class AdvisoryLock(Leadership):
    """Lead while holding a PostgreSQL advisory lock on a connection of our own."""

    def __init__(self, engine: AsyncEngine, key: int = DELIVERY_LOCK) -> None:
        """Compete for ``key`` on ``engine``'s database."""
        self.engine = engine
        self.key = key
        self.name = f"medvirk-delivery:{os.getpid()}"
        self._connection: AsyncConnection | None = None

    async def acquire(self) -> bool:
        """Take the lock if nobody holds it; never waits for it."""
        try:
            if self._connection is None:
                connection = await self.engine.connect()
                # Autocommit: no transaction stays open on this long-lived connection.
                self._connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            got = (
                await self._connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
                )
            ).scalar_one()
            if got:
                # Lets an operator (and the replica test) see which process sends.
                await self._connection.execute(
                    text("SELECT set_config('application_name', :name, false)"),
                    {"name": self.name},
                )
            return bool(got)
        except Exception as error:  # an unreachable database: not the leader, try later
            logger.warning("Could not compete for leadership: %s", type(error).__name__)
            await self._discard()
            return False

    async def check(self) -> bool:
        """Confirm that our session still holds the lock (False on any doubt)."""
        connection = self._connection
        if connection is None:
            return False
        try:
            held = await asyncio.wait_for(
                connection.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND pid = pg_backend_pid() AND objid = :key AND granted"
                    ),
                    {"key": self.key},
                ),
                CHECK_TIMEOUT,
            )
            return bool(held.scalar_one())
        except Exception as error:
            logger.warning("Lost the database connection that holds the lock: %s", error)
            await self._discard()
            return False

    async def release(self) -> None:
        """Unlock and close the connection."""
        connection = self._connection
        if connection is None:
            return
        try:
            await connection.execute(text("SELECT pg_advisory_unlock_all()"))
        except Exception as error:  # closing the connection below releases it anyway
            logger.warning("Could not unlock: %s", type(error).__name__)
        await self._discard()

    async def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            # Invalidate rather than return it to the pool: its session settings and any
            # lock must not live on in a connection someone else gets.
            await connection.invalidate()
            await connection.close()
        except Exception:  # already broken: nothing to clean up
            logger.debug("Connection was already closed", exc_info=True)


def leadership_for(engine: AsyncEngine) -> Leadership:
    """An advisory lock on PostgreSQL; the single process on SQLite."""
    return AdvisoryLock(engine) if engine.dialect.name == "postgresql" else Leadership()
