"""The webhook server in-process (aiohttp's TestServer) on a prepared database, plus helpers.

The database is built from the models and stamped with the newest migration, so the bot's own
``upgrade`` at start is a no-op (the migrations themselves are tested in tests/domain).
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

import bot.app
from bot.app import RunningBot
from bot.db import create_engine, create_sessionmaker
from bot.settings import Settings
from bot.web import BOT, SECRET_HEADER, create_web_app
from sandbox import Sandbox

SECRET = "test-webhook-secret_123"
NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns while building RetryAfter unless this is set; warnings are errors here.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """A running sandbox Bot API server."""
    async with Sandbox() as sandbox:
        yield sandbox


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def settings(sandbox: Sandbox, prepared_database_url: str) -> Settings:
    """Webhook-mode settings pointing at the sandbox and the prepared database."""
    port = free_port()
    assert sandbox.url is not None
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=SecretStr(sandbox.token),
        telegram_api_url=sandbox.url,
        database_url=prepared_database_url,
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        webhook_secret=SecretStr(SECRET),
        web_port=port,
    )


class Clock:
    """A settable clock for the bot."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """The time the bot sees."""
    return Clock()


@pytest.fixture
async def db(prepared_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the bot's database, for setting up and checking."""
    engine = create_engine(prepared_database_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


@dataclass
class Webhook:
    """The bot's web server, running in-process, and a client that plays Telegram."""

    app: web.Application
    server: TestServer
    http: aiohttp.ClientSession
    sandbox: Sandbox

    @property
    def bot(self) -> RunningBot:
        """The started application and its engine."""
        return self.app[BOT]

    def url(self, path: str = "/telegram") -> str:
        """The server's URL for ``path``."""
        return str(self.server.make_url(path))

    async def post(self, update: Any, secret: str | None = SECRET) -> int:
        """POST an update as Telegram does; return the status."""
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        async with self.http.post(self.url(), json=update, headers=headers) as response:
            body = await response.read()
            if 200 <= response.status < 300:
                # As Telegram: a method call in the answer is made (the button's answer).
                await self.sandbox.execute_webhook_answer(response.content_type, body)
            return response.status

    async def get(self, path: str) -> tuple[int, str]:
        """GET ``path``; return the status and the body."""
        async with self.http.get(self.url(path)) as response:
            return response.status, await response.text()

    async def use_sandbox_delivery(self) -> None:
        """Let the sandbox deliver its users' updates here, as Telegram would."""
        await self.bot.application.bot.set_webhook(self.url(), secret_token=SECRET)


@pytest.fixture
def no_reply_spacing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send a reply's messages back to back (the sandbox here has no per-chat limit).

    The bot keeps Telegram's pace per chat after a short burst (bot/ratelimit.py); these tests are
    about other things, and thousands of one-second waits would only make them slow.
    """
    monkeypatch.setattr(
        bot.app, "ReplyRateLimiter", functools.partial(bot.app.ReplyRateLimiter, per_chat=0.0)
    )


@pytest.fixture
async def webhook(
    settings: Settings, clock: Clock, no_reply_spacing: None, sandbox: Sandbox
) -> AsyncIterator[Webhook]:
    """The webhook server (bot started, migrations run) on a free local port."""
    app = create_web_app(settings, clock=clock)
    server = TestServer(app)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield Webhook(app, server, http, sandbox)
    finally:
        await server.close()


async def wait_until(condition: Any, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Poll ``condition()`` (sync or async) until it is true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


class BotProcess:
    """``python -m bot run`` in webhook mode as its own process; its log goes to a file."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.settings = settings
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    @property
    def base(self) -> str:
        """The bot's own URL."""
        return f"http://127.0.0.1:{self.settings.web_port}"

    async def start(self) -> None:
        """Start it and wait until it answers /healthz."""
        settings = self.settings
        assert settings.bot_token is not None
        assert settings.webhook_secret is not None
        env = {
            **os.environ,
            "BOT_TOKEN": settings.bot_token.get_secret_value(),
            "TELEGRAM_API_URL": settings.telegram_api_url,
            "DATABASE_URL": settings.database_url,
            "WEBHOOK_URL": settings.webhook_url or "",
            "WEBHOOK_SECRET": settings.webhook_secret.get_secret_value(),
            "WEB_HOST": "127.0.0.1",
            "WEB_PORT": str(settings.web_port),
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
        }
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env=env,
                cwd=self.log.parent,  # no .env of the developer's
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        async with aiohttp.ClientSession() as http:

            async def healthy() -> bool:
                assert self.process is not None
                if self.process.returncode is not None:
                    raise AssertionError(f"the bot exited:\n{self.log.read_text()[-3000:]}")
                try:
                    async with http.get(f"{self.base}/healthz") as response:
                        return response.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await wait_until(healthy, 30)

    def signal(self, number: int) -> None:
        """Send a signal."""
        assert self.process is not None
        self.process.send_signal(number)

    async def wait(self, timeout: float = 30) -> int:  # noqa: ASYNC109
        """Wait for the process to end; return its exit code."""
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout)

    def lines(self) -> list[str]:
        """What it logged."""
        return self.log.read_text(errors="replace").splitlines()


@pytest.fixture
async def bot_processes(
    settings: Settings, tmp_path: Path
) -> AsyncIterator[Callable[[], BotProcess]]:
    """Make bot processes sharing one log; all are killed at the end whatever happened."""
    made: list[BotProcess] = []

    def make() -> BotProcess:
        made.append(BotProcess(settings, tmp_path / "bot.log"))
        return made[-1]

    yield make
    for made_bot in made:
        process = made_bot.process
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()
