"""Broadcasts survive ``kill -9``, and two replicas on PostgreSQL share one without doubling it.

The bot runs as ``python -m bot run`` in subprocesses against a sandbox with Telegram's limits.
After a crash every recipient still gets the message; at most the sends that were in flight
(``DeliveryConfig.unrecorded_limit``, 16 at 25/s; docs/broadcasts.md) reach someone twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.delivery import DeliveryConfig
from bot.settings import Settings
from models.base import utcnow
from models.outbox import BroadcastState
from sandbox import Sandbox
from tests.auxil.broadcasts import (
    audience,
    confirmed_broadcast,
    delivery_states,
    wait_for_count,
    wait_for_sends,
    wait_for_state,
)

pytestmark = pytest.mark.postgres

Sessions = async_sessionmaker[AsyncSession]
RATE = 25
BOUND = DeliveryConfig(rate=RATE).unrecorded_limit
STAFF = 9000


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """Telegram's limits: 30 messages/s in all, 1/s per chat."""
    async with Sandbox(global_rate=30, per_chat_rate=1, latency=0.01) as sandbox:
        sandbox.add_user(STAFF)
        yield sandbox


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start_bot(
    settings: Settings, sandbox: Sandbox, *, webhook: bool = False
) -> asyncio.subprocess.Process:
    """``python -m bot run``: long polling, or webhook mode on a port of its own."""
    port = _free_port()
    env = {
        **os.environ,
        "BOT_TOKEN": sandbox.token,
        "TELEGRAM_API_URL": sandbox.url or "",
        "DATABASE_URL": settings.database_url,
        "BROADCAST_RATE": str(RATE),
        "QUIET_HOURS": "off",
        "LOG_LEVEL": "WARNING",
        "WEB_PORT": str(port),
    }
    if webhook:
        env["WEBHOOK_URL"] = f"http://127.0.0.1:{port}/telegram"
        env["WEBHOOK_SECRET"] = "replica-test-secret"
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, stdin=asyncio.subprocess.DEVNULL
    )


@pytest.fixture
async def processes() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """Bot processes started by a test; killed at the end whatever happens."""
    started: list[asyncio.subprocess.Process] = []
    yield started
    for process in started:
        if process.returncode is None:
            process.kill()
            await process.wait()


def duplicates(sandbox: Sandbox, chats: list[int], before: dict[int, int] | None = None) -> int:
    """Messages beyond one per chat (since ``before``)."""
    base = before or {}
    return sum(max(sandbox.stats.per_chat[c] - base.get(c, 0) - 1, 0) for c in chats)


async def test_kill_9_mid_broadcast_and_restart_everyone_gets_it(
    sandbox: Sandbox,
    settings: Settings,
    db: Sessions,
    processes: list[asyncio.subprocess.Process],
) -> None:
    recipients = list(range(50_001, 50_251))
    await audience(sandbox, db, recipients)
    broadcast = await confirmed_broadcast(
        db, utcnow(), text={"nb": "Ny skolerute"}, staff_chat=STAFF
    )
    processes.append(await start_bot(settings, sandbox))
    await wait_for_count(sandbox, recipients, 80, timeout=60)
    processes[0].send_signal(signal.SIGKILL)
    assert await processes[0].wait() == -signal.SIGKILL
    stopped_at = sum(sandbox.stats.per_chat[c] for c in recipients)
    assert stopped_at < len(recipients)

    processes.append(await start_bot(settings, sandbox))
    await wait_for_sends(sandbox, recipients, timeout=60)
    done = await wait_for_state(db, broadcast, timeout=30, reported=True)
    assert done.state == BroadcastState.DONE
    assert set((await delivery_states(db, broadcast)).values()) == {"sent"}
    assert duplicates(sandbox, recipients) <= BOUND
    processes[1].terminate()
    assert await processes[1].wait() == 0


async def _leader_pid(db: Sessions) -> int:
    """The process holding the delivery lock (bot.leader names its connection by pid)."""
    for _ in range(100):
        async with db() as session:
            name = (
                await session.exec(
                    text(  # type: ignore[call-overload]
                        # This database's replicas only: other test databases on the same
                        # server run bots of their own.
                        "SELECT application_name FROM pg_stat_activity "
                        "WHERE application_name LIKE 'medvirk-delivery:%' "
                        "AND datname = current_database()"
                    )
                )
            ).first()
        if name is not None:
            return int(name[0].rpartition(":")[2])
        await asyncio.sleep(0.1)
    raise AssertionError("no replica holds the delivery lock")


@pytest.mark.postgres_only("replicas share PostgreSQL (TEST_DATABASE_URL)")
async def test_two_replicas_on_postgresql_take_over_from_each_other_without_doubling(
    sandbox: Sandbox,
    settings: Settings,
    db: Sessions,
    processes: list[asyncio.subprocess.Process],
) -> None:
    processes.append(await start_bot(settings, sandbox, webhook=True))
    processes.append(await start_bot(settings, sandbox, webhook=True))
    by_pid = {p.pid: p for p in processes}

    # A graceful stop (SIGTERM, as at a deploy): the other replica finishes, nobody twice.
    first = list(range(60_001, 60_201))
    await audience(sandbox, db, first)
    one = await confirmed_broadcast(db, utcnow(), text={"nb": "Én"}, staff_chat=STAFF)
    await wait_for_count(sandbox, first, 60, timeout=60)
    leader = by_pid[await _leader_pid(db)]
    leader.terminate()
    assert await leader.wait() == 0
    await wait_for_state(db, one, timeout=60, reported=True)
    assert all(sandbox.stats.per_chat[c] == 1 for c in first)

    # A crash (kill -9) of the new leader while a third replica stands by.
    processes.append(await start_bot(settings, sandbox, webhook=True))
    by_pid = {p.pid: p for p in processes}
    second = list(range(61_001, 61_201))
    await audience(sandbox, db, second)
    two = await confirmed_broadcast(db, utcnow(), text={"nb": "To"}, staff_chat=STAFF)
    await wait_for_count(sandbox, second, 60, timeout=60)
    crashed = by_pid[await _leader_pid(db)]
    crashed.send_signal(signal.SIGKILL)
    await crashed.wait()
    await wait_for_state(db, two, timeout=60, reported=True)
    assert all(sandbox.stats.per_chat[c] >= 1 for c in second)
    assert duplicates(sandbox, second) <= BOUND
    assert set((await delivery_states(db, two)).values()) == {"sent"}
