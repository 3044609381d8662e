"""The sandbox's web chat: a page where a person plays citizens, staff or a moderator.

The page (``web/index.html``, ``app.js``, ``app.css``: no build step, nothing loaded from the
internet) is served at ``/`` of the sandbox's own server and talks to it through the driver API
(:mod:`sandbox.driver`) plus two routes of its own:

=======  =================================  ================================================
GET      /sandbox/web/config                the bot, the people of the page with their roles
                                            and languages, and the consultation previewed
GET      /sandbox/web/events                ``?chats=1,2&after=N&wait=S``: the events of
                                            several chats after a cursor, long-polling up to
                                            S seconds for the first one (one connection for
                                            every chat of the page)
=======  =================================  ================================================
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from sandbox.driver import event_json
from sandbox.server import BotApiServer
from sandbox.state import SandboxEvent

WEB_DIR = Path(__file__).parent / "web"
PREFIX = "/sandbox/web"
#: The only files served from ``web/``: nothing else in the package can be fetched.
ASSETS = {"app.js", "app.css"}
MAX_WAIT = 25.0
MAX_CHATS = 100
#: Everything the page uses comes from this server; the browser enforces it.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class Persona:
    """A person of the page: a sandbox user and the role the sandbox granted them."""

    user_id: int
    role: str  # citizen, staff or moderator


@dataclass(frozen=True)
class Preview:
    """The consultation file being previewed (``medvirk sandbox --consultation FILE``).

    Plain data: whoever starts the sandbox reads the file and says what the page shows.
    """

    slug: str
    title: str
    languages: tuple[str, ...]

    @property
    def start_command(self) -> str:
        """What Telegram sends when someone opens the consultation's deep link."""
        return f"/start c_{self.slug}"


class _WebChat:
    """Request handlers of the page, bound to one sandbox."""

    def __init__(
        self, sandbox: BotApiServer, personas: list[Persona], preview: Preview | None
    ) -> None:
        self.sandbox = sandbox
        self.roles = {persona.user_id: persona.role for persona in personas}
        self.preview = preview
        # Tells this run from the last one: the page keeps its votes per run.
        self.instance = secrets.token_hex(8)

    async def index(self, _request: web.Request) -> web.StreamResponse:
        """Serve the page."""
        return web.FileResponse(WEB_DIR / "index.html", headers=HEADERS)

    async def asset(self, request: web.Request) -> web.StreamResponse:
        """Serve the page's script or style sheet."""
        name = request.match_info["name"]
        if name not in ASSETS:
            raise web.HTTPNotFound()
        return web.FileResponse(WEB_DIR / name, headers=HEADERS)

    async def config(self, _request: web.Request) -> web.Response:
        """Describe the bot, the people of the page and the consultation previewed."""
        sandbox = self.sandbox
        people = [
            {
                "id": user.id,
                "name": user.first_name,
                "language_code": user.language_code,
                "role": self.roles.get(user.id, "citizen"),
            }
            for user in sandbox.users
        ]
        preview = self.preview
        return web.json_response(
            {
                "bot": {
                    "id": sandbox.bot_user["id"],
                    "name": sandbox.bot_user["first_name"],
                    "username": sandbox.bot_user["username"],
                },
                "instance": self.instance,
                "personas": people,
                "preview": None
                if preview is None
                else {
                    "slug": preview.slug,
                    "title": preview.title,
                    "languages": list(preview.languages),
                    "start": preview.start_command,
                },
            },
            headers={"Cache-Control": "no-store"},
        )

    async def events(self, request: web.Request) -> web.Response:
        """Return the events of several chats after a cursor, waiting for the first one."""
        try:
            chats = [int(part) for part in request.query.get("chats", "").split(",") if part]
            after = int(request.query.get("after") or 0)
            wait = min(max(float(request.query.get("wait") or 0), 0.0), MAX_WAIT)
        except ValueError:
            return web.json_response(
                {"error": "chats must be ids separated by commas; after and wait numbers"},
                status=400,
            )
        if not chats or len(chats) > MAX_CHATS:
            return web.json_response(
                {"error": f"name 1 to {MAX_CHATS} chats, e.g. ?chats=1001,1002"}, status=400
            )
        found = self._collect(chats, after)
        if not found and wait > 0:
            await self._wait_any(chats, after, wait)
            found = self._collect(chats, after)
        # Read after collecting, with no await between: every event up to it was seen.
        cursor = self.sandbox.cursor
        return web.json_response(
            {"events": [event_json(event) for event in found], "cursor": cursor},
            headers={"Cache-Control": "no-store"},
        )

    def _collect(self, chats: list[int], after: int) -> list[SandboxEvent]:
        found = [event for chat in set(chats) for event in self.sandbox.events(chat, after)]
        found.sort(key=lambda event: event.seq)
        return found

    async def _wait_any(self, chats: list[int], after: int, wait: float) -> None:
        waiters = [
            asyncio.create_task(self.sandbox.wait_events(chat, after, wait)) for chat in set(chats)
        ]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)


def add_web_chat(
    sandbox: BotApiServer, personas: list[Persona], *, preview: Preview | None = None
) -> None:
    """Serve the web chat at ``/`` of the sandbox (call before it starts)."""
    chat = _WebChat(sandbox, personas, preview)
    router = sandbox.app.router
    router.add_get("/", chat.index)
    router.add_get(PREFIX + "/config", chat.config)
    router.add_get(PREFIX + "/events", chat.events)
    router.add_get(PREFIX + "/{name}", chat.asset)
