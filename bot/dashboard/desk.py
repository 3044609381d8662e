"""What every dashboard page works with: the bot's runtime, the signing key, the request's visit.

The dashboard is built before the bot runs (aiohttp mounts it before serving) and connected to
the running bot afterwards (:meth:`Desk.connect`): from then on it shares the bot's database
sessions, its SQLite writer queue, its clock and its settings, so a decision taken here and one
taken in chat are taken the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from bot.signing import cookie_secret, sign, unsign
from handlers.context import Runtime
from models.dashboard import DashboardSession
from models.roles import Role

if TYPE_CHECKING:
    from telegram import Bot

#: Where the dashboard is mounted on the web server.
PREFIX = "/dashboard"


@dataclass(frozen=True)
class SandboxLogin:
    """A "log in as" shortcut of the sandbox: a person of the sandbox page and their role."""

    user_id: int
    name: str
    role: str


@dataclass
class Desk:
    """The dashboard's wiring: settings now, the running bot once it runs."""

    settings: Settings
    sandbox_logins: tuple[SandboxLogin, ...] = ()
    public_url: str = ""
    runtime: Runtime | None = None
    bot: Bot | None = None
    bot_username: str = ""
    secret: bytes = b""

    @property
    def ready(self) -> bool:
        """True once the bot runs and the dashboard can answer."""
        return self.runtime is not None

    @property
    def rt(self) -> Runtime:
        """The bot's runtime (only asked for once ready)."""
        if self.runtime is None:
            raise web.HTTPServiceUnavailable(text="Medvirk is starting; try again in a moment.")
        return self.runtime

    @property
    def idle(self) -> timedelta:
        """How long a session lasts without a request."""
        return timedelta(minutes=self.settings.dashboard_idle_minutes)

    async def connect(self, runtime: Runtime, bot: Bot, public_url: str) -> None:
        """Share the running bot's runtime; let ``/dashboard`` in chat make login links."""
        self.secret = await cookie_secret(self.settings, runtime.sessionmaker)
        self.public_url = public_url.rstrip("/")
        self.bot_username = bot.username or ""
        self.bot = bot
        self.runtime = runtime
        runtime.dashboard_link = self.login_link

    def login_link(self, login_id: str, expires: datetime) -> str:
        """The signed one-time link for a login row."""
        token = sign(self.secret, login_id, expires)
        return f"{self.public_url}{PREFIX}/login?{urlencode({'t': token})}"

    def unsign(self, token: str, now: datetime) -> str | None:
        """The value of a token this dashboard signed, if it is genuine and current."""
        return unsign(self.secret, token, now) if self.secret else None

    def now(self) -> datetime:
        """The runtime's clock (tests move it)."""
        return self.rt.clock()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One transaction, queued with the bot's own on SQLite (one writer at a time)."""
        runtime = self.rt
        lock = runtime.transaction_lock or contextlib.nullcontext()
        async with lock, runtime.sessionmaker() as session, session.begin():
            yield session

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session that only reads: it does not wait for the bot's writers."""
        async with self.rt.sessionmaker() as session:
            yield session


@dataclass
class Visit:
    """The logged-in person of one request: who, which roles, their session."""

    user_id: int
    roles: set[Role]
    session: DashboardSession
    language: str
    notices: list[str] = field(default_factory=list)

    @property
    def csrf(self) -> str:
        """The token every state-changing request of this session must carry."""
        return self.session.csrf

    def may(self, role: Role | None) -> bool:
        """Whether the person may open pages for ``role`` (None: any dashboard page)."""
        return role is None or role in self.roles


DESK = web.AppKey("desk", Desk)
VISIT = web.RequestKey("visit", Visit)
