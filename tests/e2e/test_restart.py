"""Kill the bot process mid-consultation, start it again: the person carries on."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from models.response import Answer, Response
from sandbox import Sandbox
from tests.auxil.citizen import Citizen
from tests.auxil.consultations import add_consultation

pytestmark = pytest.mark.postgres


async def start_bot_process(settings: Settings, sandbox: Sandbox) -> asyncio.subprocess.Process:
    """Run ``python -m bot run`` as its own process, pointed at the sandbox."""
    env = {
        **os.environ,
        "BOT_TOKEN": sandbox.token,
        "TELEGRAM_API_URL": sandbox.url,
        "DATABASE_URL": settings.database_url,
        "LOG_LEVEL": "WARNING",
    }
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


async def test_a_person_resumes_after_the_bot_was_killed(
    sandbox: Sandbox,
    settings: Settings,
    db: async_sessionmaker[AsyncSession],
    processes: list[asyncio.subprocess.Process],
) -> None:
    async with db() as session:
        await add_consultation(session)
    processes.append(await start_bot_process(settings, sandbox))
    anna = Citizen(sandbox, 8001)
    await anna.send("/start c_park__library")
    await anna.expect("Før vi begynner", timeout=30)
    await anna.press("Ja, jeg godtar")
    await anna.expect("1/5")
    await anna.press("Aldri")
    await anna.expect("2/4")
    await anna.press("5")
    await anna.expect("3/4")

    processes[0].send_signal(signal.SIGKILL)
    assert await processes[0].wait() == -signal.SIGKILL

    # While the bot is down the person goes on; Telegram (the sandbox) keeps the update.
    await anna.press("Ja")
    processes.append(await start_bot_process(settings, sandbox))
    await anna.expect("4/4", timeout=30)
    await anna.send("Flere benker")
    await anna.expect("Svarene dine: Ny park")

    # After a second restart, /consultations shows it as answered, the summary intact.
    processes[1].terminate()
    assert await processes[1].wait() == 0
    processes.append(await start_bot_process(settings, sandbox))
    await anna.send("/consultations")
    await anna.expect("Åpne undersøkelser", timeout=30)
    await anna.press("Ny park")
    summary = await anna.expect("Svarene dine: Ny park")
    assert "Flere benker" in summary["text"]

    async with db() as session:
        response = (await session.exec(select(Response))).one()
        assert response.source == "library"
        assert response.completed_at is not None
        assert len((await session.exec(select(Answer))).all()) == 4
