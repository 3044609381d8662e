"""Handler tests: updates from the sandbox fed to ``Application.process_update`` one by one."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import BotApplication, build_application
from bot.settings import Settings
from handlers.context import Runtime
from sandbox import Sandbox
from tests.auxil.citizen import Citizen

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
ADMIN_ID = 9000


class Harness:
    """The application and the sandbox; each action is processed before it returns."""

    def __init__(self, app: BotApplication, sandbox: Sandbox, runtime: Runtime) -> None:
        self.app = app
        self.sandbox = sandbox
        self.runtime = runtime
        self.offset = 0
        self.now = NOW

    def citizen(self, user_id: int, language_code: str | None = "nb") -> Citizen:
        """A new person in the sandbox."""
        return Citizen(self.sandbox, user_id, language_code)

    async def process(self) -> int:
        """Feed every pending update to the application, in order; return how many."""
        updates = await self.app.bot.get_updates(offset=self.offset, timeout=0)
        for update in updates:
            self.offset = update.update_id + 1
            # In a context of its own, as each update is in production (its own task): what
            # one update set (the reply language) must not carry over to the next.
            await asyncio.create_task(
                self.app.process_update(update), context=contextvars.Context()
            )
        return len(updates)

    async def send(self, citizen: Citizen, text: str) -> None:
        """The person types ``text``; the bot handles it."""
        await citizen.send(text)
        await self.process()

    async def press(self, citizen: Citizen, label: str) -> str:
        """The person presses a button by its label; returns the bot's toast text."""
        query = await citizen.press(label)
        await self.process()
        return await citizen.notice(query, timeout=2)

    async def press_data(self, citizen: Citizen, data: str, message_id: int | None = None) -> str:
        """The person presses a button with this data (may be forged)."""
        query = await citizen.press_data(data, message_id)
        await self.process()
        return await citizen.notice(query, timeout=2)

    def last(self, citizen: Citizen) -> str:
        """The text of the newest bot message in the person's chat."""
        texts = citizen.texts()
        return texts[-1] if texts else ""

    def new_texts(self, citizen: Citizen) -> list[str]:
        """Texts of bot messages and edits since the person's last action."""
        return [
            event.message.get("text") or ""
            for event in self.sandbox.events(citizen.id, citizen.cursor)
            if event.kind in ("message", "edit") and event.message is not None
        ]


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def harness(
    sessionmaker: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Harness]:
    """The bot's application wired to the sandbox and the test database."""
    async with Sandbox() as sandbox:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            bot_token=SecretStr(sandbox.token),
            telegram_api_url=sandbox.url,
        )
        holder: dict[str, Any] = {}
        runtime = Runtime(
            sessionmaker, admin_ids=frozenset({ADMIN_ID}), clock=lambda: holder["harness"].now
        )
        app = build_application(settings, runtime)
        async with app:
            harness = Harness(app, sandbox, runtime)
            holder["harness"] = harness
            with caplog.at_level(logging.ERROR):
                yield harness
            failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert not failures, f"handlers failed: {[r.getMessage() for r in failures]}"
