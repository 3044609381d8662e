"""SIGTERM: stop taking updates, finish the ones in flight, stop everything, exit 0 in time."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.web import SECRET_HEADER, SHUTDOWN_TIMEOUT
from models.response import Answer
from sandbox import Sandbox
from tests.auxil.updates import add_scales, prepare_people, text_update
from tests.runtime.conftest import NOW, SECRET, BotProcess, wait_until

pytestmark = pytest.mark.postgres

ANNA, BO = 6401, 6402


async def post(http: aiohttp.ClientSession, bot: BotProcess, update: dict[str, object]) -> int:
    """POST an update as Telegram does; return the status."""
    async with http.post(
        f"{bot.base}/telegram", json=update, headers={SECRET_HEADER: SECRET}
    ) as response:
        await response.read()
        return response.status


async def refused(bot: BotProcess) -> bool:
    """Tell whether a new connection to the bot is refused."""
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", bot.settings.web_port)
    except OSError:
        return True
    writer.close()
    await writer.wait_closed()
    return False


async def test_sigterm_finishes_the_update_in_flight_and_exits_cleanly(
    sandbox: Sandbox,
    db: async_sessionmaker[AsyncSession],
    bot_processes: Callable[[], BotProcess],
) -> None:
    for person in (ANNA, BO):
        sandbox.add_user(person, "Stopp")
    async with db() as session:
        consultation = await add_scales(session)
    await prepare_people(db, [ANNA, BO], consultation.id or 0, NOW)
    bot = bot_processes()
    await bot.start()

    # Telegram holds the reply for two seconds: the update is in flight when SIGTERM comes.
    sandbox.inject_fault(method="sendMessage", delay=2.0)
    async with aiohttp.ClientSession() as http:
        in_flight = asyncio.create_task(post(http, bot, text_update(1, ANNA, "4")))
        await wait_until(lambda: sandbox.stats.calls["sendmessage"] >= 1)
        stopped_at = time.monotonic()
        bot.signal(signal.SIGTERM)
        await wait_until(lambda: refused(bot), 5)  # no new updates taken
        assert not in_flight.done()
        assert await in_flight == 200  # but the one in flight was finished, and answered

    assert await bot.wait(SHUTDOWN_TIMEOUT + 10) == 0
    assert time.monotonic() - stopped_at < SHUTDOWN_TIMEOUT
    async with db() as session:
        assert [a.number for a in (await session.exec(select(Answer))).all()] == [4]
    log = "\n".join(bot.lines())
    assert "Stopping: no new updates" in log
    assert "Traceback" not in log
    assert sandbox.token not in log
    # The webhook stays set, so Telegram keeps new updates for the next start.
    assert sandbox.webhook_url == bot.settings.webhook_url


async def test_an_update_stuck_past_the_limit_does_not_hold_the_shutdown(
    sandbox: Sandbox,
    db: async_sessionmaker[AsyncSession],
    bot_processes: Callable[[], BotProcess],
) -> None:
    sandbox.add_user(BO, "Stopp")
    bot = bot_processes()
    await bot.start()
    sandbox.inject_fault(method="sendMessage", delay=60.0)  # far past SHUTDOWN_TIMEOUT
    async with aiohttp.ClientSession() as http:
        stuck = asyncio.create_task(post(http, bot, text_update(2, BO, "/help")))
        await wait_until(lambda: sandbox.stats.calls["sendmessage"] >= 1)
        stopped_at = time.monotonic()
        bot.signal(signal.SIGTERM)
        assert await bot.wait(SHUTDOWN_TIMEOUT + 10) == 0
        assert time.monotonic() - stopped_at < SHUTDOWN_TIMEOUT + 5
        # Not answered 2xx: Telegram will deliver it again to the next process.
        with pytest.raises(aiohttp.ClientError):
            await stuck
