"""The staff dashboard in a test: mounted on a test server, connected to a runtime and a clock."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dashboard import Dashboard
from bot.settings import Settings
from handlers.context import Runtime
from models.dashboard import issue_login

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Desk:
    """A test client on the dashboard, its runtime and a clock the test moves."""

    client: TestClient[Any, Any]
    runtime: Runtime
    now: datetime = NOW

    async def link(self, user_id: int) -> str:
        """A fresh one-time login link for the person, as ``/dashboard`` makes it (a path)."""
        async with self.runtime.sessionmaker() as session, session.begin():
            login = await issue_login(session, user_id, self.now)
        assert self.runtime.dashboard_link is not None
        url = self.runtime.dashboard_link(login.id, login.expires_at)
        return url.removeprefix("http://dashboard.test")

    async def use(self, link: str) -> Any:
        """Open the link and press "Log in"; the response after the redirect."""
        token = link.split("t=", 1)[1]
        return await self.client.post("/dashboard/login", data={"t": token})

    async def log_in(self, user_id: int) -> str:
        """Log in as the person; return the session's CSRF token."""
        response = await self.use(await self.link(user_id))
        assert response.status == 200, await response.text()
        return await self.csrf()

    async def csrf(self) -> str:
        """The CSRF token the home page carries."""
        page = await (await self.client.get("/dashboard/")).text()
        found = CSRF.search(page)
        assert found is not None, page[:500]
        return found.group(1)


@asynccontextmanager
async def dashboard_client(
    sessionmaker: async_sessionmaker[AsyncSession],
    admin_ids: frozenset[int] = frozenset(),
    runtime: Runtime | None = None,
    language: str = "nb",
) -> AsyncIterator[Desk]:
    """The dashboard on a local test server (cookies kept), connected to ``runtime``."""
    holder: dict[str, Desk] = {}
    if runtime is None:
        runtime = Runtime(
            sessionmaker,
            admin_ids=admin_ids,
            clock=lambda: holder["desk"].now,
            default_language=language,
        )
    settings = Settings(_env_file=None, session_secret=SecretStr("test-secret"))  # type: ignore[call-arg]
    dashboard = Dashboard(settings)
    app = web.Application()
    dashboard.mount(app)
    bot = SimpleNamespace(username="medvirk_bot")
    await dashboard.connect(runtime, bot, "http://dashboard.test")  # type: ignore[arg-type]
    async with TestClient(TestServer(app)) as client:
        desk = Desk(client, runtime)
        holder["desk"] = desk
        yield desk
